import { buildApp } from 'fauxqs';
import { acceptAwsBodyCharacters } from './sqsBodyCharacters.ts';
import { keepAwsSystemAttributes } from './sqsSystemAttributes.ts';

export interface LocalSqs {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * fauxqs: an SQS API emulator (send/receive/delete, visibility, redrive to a DLQ), made to take the
 * message bodies SQS takes and to return the system attributes SQS returns.
 */
export async function startSqs(port = 0): Promise<LocalSqs> {
  await acceptAwsBodyCharacters();
  // No host option: queue URLs then read sqs.<region>.localhost, valid URLs; requests go to the
  // configured endpoint (the SQS client does not route by queue URL).
  const app = buildApp({ logger: false });
  await keepAwsSystemAttributes(app);
  await app.listen({ port, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('fauxqs did not bind');
  return { endpoint: `http://127.0.0.1:${addr.port}`, stop: () => app.close() };
}
