import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import type { LocalEnvironment } from '../environment.ts';
import { shown, type DataDir } from './dataDir.ts';
import { CliError } from './run.ts';

/**
 * `<data-dir>/connection.json`: where the running `npm run local` listens, for the commands run
 * beside it (verify, export, redrive, dashboard, status). Its parts live as long as that run: once
 * it ends, the endpoints in the file answer no more, and the commands fall back to the kept data.
 */
const ConnectionFileSchema = z.object({
  databaseUrl: z.string().min(1),
  region: z.string().min(1),
  kinesisEndpoint: z.string().url(),
  sqsEndpoint: z.string().url(),
  streamName: z.string().min(1),
  queues: z.object({ ingestDlq: z.string().url(), onFailure: z.string().url(), events: z.string().url(), eventsDlq: z.string().url() }),
});
export type ConnectionFile = z.infer<typeof ConnectionFileSchema>;

/** Holds the database URL with its password (a user's DATABASE_URL too): owner-only, like ~/.pgpass. */
export function writeConnectionFile(dir: DataDir, env: LocalEnvironment): void {
  const file: ConnectionFile = {
    databaseUrl: env.databaseUrl,
    region: env.region,
    kinesisEndpoint: env.awsEndpoint,
    sqsEndpoint: env.sqsEndpoint,
    streamName: env.streamName,
    queues: { ingestDlq: env.queues.ingestDlq.url, onFailure: env.queues.onFailure.url, events: env.queues.events.url, eventsDlq: env.queues.eventsDlq.url },
  };
  writeFileSync(dir.connection, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(dir.connection, 0o600);
}

export function readConnectionFile(dir: DataDir): ConnectionFile | undefined {
  let text: string;
  try {
    text = readFileSync(dir.connection, 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${shown(dir.connection)} is not JSON (${(e as Error).message}): delete it, it is rewritten by the next npm run local`);
  }
  const parsed = ConnectionFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new CliError(
      `${shown(dir.connection)} is not a connection file of this version (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}): delete it, it is rewritten by the next npm run local`,
    );
  }
  return parsed.data;
}
