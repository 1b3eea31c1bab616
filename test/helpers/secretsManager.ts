import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Secrets Manager endpoint on 127.0.0.1 that answers GetSecretValue (AWS JSON 1.1 protocol) from
 * an in-memory map, for the real SDK client (point it here with AWS_ENDPOINT_URL_SECRETS_MANAGER).
 * No emulator for Secrets Manager installs from npm; this is the one call tapline makes.
 */
export interface FakeSecretsManager {
  endpoint: string;
  /** Sets (or rotates) a secret's SecretString. */
  put(arn: string, secretString: string): void;
  /** GetSecretValue calls so far, per secret. */
  reads(arn: string): number;
  close(): Promise<void>;
}

export async function startSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, string>();
  const reads = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        reply(400, { __type: 'UnknownOperationException', message: String(req.headers['x-amz-target']) });
        return;
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
      reads.set(SecretId, (reads.get(SecretId) ?? 0) + 1);
      const value = secrets.get(SecretId);
      if (value === undefined) {
        reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
        return;
      }
      reply(200, {
        ARN: SecretId,
        Name: SecretId.split(':').at(-1),
        SecretString: value,
        VersionId: `v${reads.get(SecretId)}`,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    put: (arn, value) => void secrets.set(arn, value),
    reads: (arn) => reads.get(arn) ?? 0,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
