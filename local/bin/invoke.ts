import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadStageConfig } from '#config/stages';
import { queueDepth, startLocalEnvironment } from '../environment.ts';
import { localInvoker, type Handler } from '../esm/invoker.ts';

const USAGE = `npm run --silent invoke -- <simulator|ingest|writer> --event <file.json> [--data-dir DIR]
Runs one handler once with an event exactly as AWS sends it, against the local services (embedded
PostgreSQL kept in DIR/pg, emulators), or DATABASE_URL / AWS_ENDPOINT_URL. The handler's JSON
response is the only thing printed on stdout; logs and metrics go to stderr.`;

const FUNCTIONS = {
  simulator: () => import('../../functions/simulator/handler.ts'),
  ingest: () => import('../../functions/ingest/handler.ts'),
  writer: () => import('../../functions/writer/handler.ts'),
} as const;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { event: { type: 'string' }, 'data-dir': { type: 'string', default: '.tapline/local' }, help: { type: 'boolean' } },
});
const name = positionals[0];
if (args.help || !name || !(name in FUNCTIONS) || !args.event) {
  process.stderr.write(USAGE + '\n');
  process.exit(args.help ? 0 : 2);
}
const event: unknown = JSON.parse(readFileSync(resolve(args.event), 'utf8'));
const config = loadStageConfig('local');
const env = await startLocalEnvironment({
  config,
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : { pgDataDir: join(resolve(args['data-dir']), 'pg') }),
  ...(process.env.AWS_ENDPOINT_URL ? { awsEndpoint: process.env.AWS_ENDPOINT_URL } : {}),
});
Object.assign(process.env, env.functionEnv, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

// Like `sam local invoke`: the function's own output goes to stderr, its response to stdout.
const stdout = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
let exitCode = 0;
let response: unknown;
try {
  const { handler } = (await FUNCTIONS[name as keyof typeof FUNCTIONS]()) as { handler: Handler<unknown, unknown> };
  const settings = config[name as keyof typeof FUNCTIONS];
  const fn = { functionName: `tapline-${name}`, timeoutSeconds: settings.timeoutSeconds, memoryMb: settings.memoryMb, region: env.region };
  response = await localInvoker(fn, handler)(event);
} catch (e) {
  exitCode = 1;
  response = { errorType: (e as Error).name, errorMessage: (e as Error).message };
} finally {
  const q = env.queues;
  const depths = await Promise.all([q.ingestDlq, q.events, q.eventsDlq].map((queue) => queueDepth(env.sqs, queue)));
  process.stderr.write(`queues after the invocation: ingest-dlq ${depths[0]}, events ${depths[1]}, events-dlq ${depths[2]}\n`);
  await env.stop();
}
stdout(JSON.stringify(response ?? null) + '\n');
process.exit(exitCode);
