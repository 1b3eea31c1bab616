import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectDatabase } from '#core/db/connect';
import { readEnv } from '#core/env';

/**
 * A warm "container" in a child process: one database pool built by connectDatabase from its own
 * environment, queried on demand. A child process because trusting a test CA takes
 * NODE_EXTRA_CA_CERTS, which Node reads only at start.
 */
export type ProbeAnswer = { ok: { user: string; ssl: boolean } } | { error: string };

export interface DatabaseProbe {
  /** Runs one query through the probe's pool: who it is logged in as, and whether over TLS. */
  query(): Promise<ProbeAnswer>;
  stop(): Promise<void>;
}

export function startProbe(env: NodeJS.ProcessEnv): DatabaseProbe {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, ...env, TAPLINE_PROBE: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async query() {
      child.stdin.write('query\n');
      const next = await answers.next();
      if (next.done) throw new Error(`probe exited: ${stderr}`);
      return JSON.parse(next.value) as ProbeAnswer;
    },
    async stop() {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.stdin.end();
      await exited;
    },
  };
}

if (process.env.TAPLINE_PROBE === '1') {
  const pending = connectDatabase(readEnv());
  for await (const _line of createInterface({ input: process.stdin })) {
    const answer: ProbeAnswer = await pending
      .then((db) => db.query<{ user: string; ssl: boolean }>('SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))
      .then(
        ({ rows }) => ({ ok: rows[0] ?? { user: '', ssl: false } }),
        (e: Error & { code?: string }) => ({ error: e.code ?? e.message }),
      );
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
  await pending.then(
    (db) => db.end(),
    () => undefined,
  );
}
