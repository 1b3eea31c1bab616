import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataDir, lockDataDir } from '../../local/cli/dataDir.ts';
import { runCommandProcess, type CommandOutcome } from '../helpers/commandProcess.ts';

/**
 * Every command, given bad input as a user would type it, as a child process: exit 2, one line
 * saying what is wrong, then the usage; never a stack trace, and nothing started first. Also the
 * operator failures that are not usage errors: exit 1 with one line.
 */
const dir = await mkdtemp(join(tmpdir(), 'tapline-usage-'));
await chmod(dir, 0o755);
afterAll(() => rm(dir, { recursive: true, force: true }));

const notJson = join(dir, 'not-json.json');
await writeFile(notJson, '{"Records": [');
const empty = join(dir, 'empty-data-dir');
// A data dir held by this test process, as a running `npm run local` would hold it.
const held = dataDir(join(dir, 'held'));
const lock = lockDataDir(held, 'npm run local (the test)');
afterAll(() => lock.release());

const SCRIPTS = {
  local: 'local/bin/local.ts',
  invoke: 'local/bin/invoke.ts',
  'sample-event': 'local/bin/sample-event.ts',
  migrate: 'local/bin/migrate.ts',
  redrive: 'ops/bin/redrive.ts',
  cost: 'ops/bin/cost.ts',
  verify: 'ops/bin/verify.ts',
  export: 'ops/bin/export.ts',
  maintenance: 'ops/bin/maintenance.ts',
  retention: 'ops/bin/retention.ts',
  dashboard: 'ops/bin/dashboard.ts',
  status: 'ops/bin/status.ts',
  bench: 'bench/start.ts',
  'local:stack': 'local/stack/run.ts',
} as const;
type Command = keyof typeof SCRIPTS;

/** [command, args, the error line's text after "error: "] */
const USAGE_ERRORS: Array<[Command, string[], string | RegExp]> = [
  ['local', ['--bogus'], 'unknown option --bogus'],
  ['local', ['--rate', '-5'], '--rate must be a positive number, got "-5"'],
  ['local', ['--duration', 'abc'], '--duration must be a positive number, got "abc"'],
  ['local', ['--stage', 'bogus'], /^--stage: unknown stage "bogus": expected one of local, dev, staging, prod$/],
  ['local', ['--duration'], '--duration needs a value'],
  ['local', ['--data-dir', held.root], /^data dir .* is in use by `npm run local \(the test\)` \(pid \d+, since .*\); wait for it to end, or pass another --data-dir$/],
  ['invoke', [], 'which handler? (ingest, writer, simulator or maintenance)'],
  ['invoke', ['bogus', '--event', 'local/events/writer-sqs.json'], 'unknown handler "bogus": expected ingest, writer, simulator, maintenance'],
  ['invoke', ['ingest'], '--event FILE.json is required'],
  ['invoke', ['ingest', '--event', join(dir, 'missing.json')], /^--event .*missing\.json: cannot read it \(ENOENT\)$/],
  ['invoke', ['ingest', '--event', notJson], /^--event .*not-json\.json is not JSON: /],
  [
    'invoke',
    ['ingest', '--event', 'local/events/writer-sqs.json'],
    /^--event local\/events\/writer-sqs\.json is not a Kinesis event \(Records\[\]\.kinesis\) for ingest: Records\.0\.eventID: /,
  ],
  ['invoke', ['writer', '--event', 'local/events/kinesis-aws-sample.json'], /is not an SQS event .* for writer: Records\.0\.messageId: /],
  ['invoke', ['writer', '--event', 'local/events/writer-sqs.json', '--env', 'NOEQUALS'], '--env NOEQUALS: expected KEY=VALUE'],
  ['invoke', ['writer', '--event', 'local/events/writer-sqs.json', '--data-dir', held.root], /is in use by `npm run local \(the test\)`/],
  ['sample-event', ['--count', '-3'], '--count must be a whole number in 1..10000, got "-3"'],
  ['sample-event', ['--count', 'abc'], '--count must be a whole number in 1..10000, got "abc"'],
  ['migrate', ['--bogus'], 'unknown option --bogus'],
  ['migrate', ['--data-dir', held.root], /is in use by `npm run local \(the test\)`/],
  ['redrive', ['bogus'], 'unknown command "bogus": expected ingest or events'],
  ['redrive', ['ingest', '--discard', 'xyz'], /^--discard xyz: expected "all", a reason code/],
  ['cost', ['--events-per-second', '-3'], '--events-per-second must be a positive number, got "-3"'],
  ['cost', ['--events-per-second', '100', '--stage', 'bogus'], /^--stage: unknown stage "bogus"/],
  ['verify', ['--bogus'], 'unknown option --bogus'],
  ['export', [], '--out is required'],
  ['export', ['--out', 'x.csv', '--grain', 'weekly'], /^--grain must be one of raw, 1min, 1h, 1day, got "weekly"$/],
  ['maintenance', ['--repair=yes'], '--repair takes no value'],
  ['retention', ['--days', '0'], '--days must be a whole number in 1..36500, got "0"'],
  ['retention', ['--days', '7', '--table', 'weekly'], '--table must be one of raw, 1min, 1h, got "weekly"'],
  ['dashboard', ['--port', 'abc'], '--port must be a port number in 0..65535, got "abc"'],
  ['status', ['--bogus'], 'unknown option --bogus'],
  ['bench', ['--rounds', '0'], '--rounds must be a whole number in 1..50, got "0"'],
  ['bench', ['--only', 'warp'], /^--only: unknown scenario group\(s\): warp/],
  ['bench', ['--docs', 'package.json'], /^--docs: package.json has no bench section: /],
  ['local:stack', ['--bogus'], 'unknown option --bogus'],
];

/** Failures an operator acts on, not usage errors: exit 1, one line. */
const FAILURES: Array<[Command, string[], string | RegExp, NodeJS.ProcessEnv?]> = [
  ['verify', ['--data-dir', empty], /^no database in .*empty-data-dir\/pg \(and DATABASE_URL is not set\): run `npm run local` first/],
  ['export', ['--out', join(dir, 'x.csv'), '--data-dir', empty], /^no database in /],
  ['local:stack', [], /^local:stack: the docker command is not installed/, { PATH: dir }],
];

/** Two at a time: each is a tsx process of about a second on a busy 2-core machine. */
const MAX_RUNNING = 2;
let running = 0;
const waiting: Array<() => void> = [];
async function run(command: Command, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandOutcome> {
  if (running >= MAX_RUNNING) await new Promise<void>((go) => waiting.push(go));
  running++;
  try {
    return await runCommandProcess(SCRIPTS[command], args, env);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const matches = (line: string | undefined, expected: string | RegExp) => (typeof expected === 'string' ? line === expected : expected.test(line ?? ''));

describe.concurrent('every command with bad input', () => {
  it.each(USAGE_ERRORS.map(([c, a, e]) => [`${c} ${a.join(' ')}`, c, a, e] as const))('%s: exit 2, one line, the usage', async (_name, command, args, expected) => {
    // Act
    const { code, stderr } = await run(command, args);

    // Assess
    expect(code, stderr).toBe(2);
    const lines = stderr.split('\n');
    expect(lines[0], stderr).toMatch(/^error: /);
    expect(matches(lines[0]!.slice('error: '.length), expected), stderr).toBe(true);
    expect(lines[1], stderr).toBe('');
    expect(lines.slice(2).join('\n'), stderr).toMatch(/^npm run /);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it.each(FAILURES.map(([c, a, e, env]) => [`${c} ${a.join(' ')}`, c, a, e, env] as const))('%s: exit 1 with one line', async (_name, command, args, expected, env) => {
    // Act
    const { code, stderr } = await run(command, args, env);

    // Assess
    expect(code, stderr).toBe(1);
    const errors = stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors, stderr).toHaveLength(1);
    expect(matches(errors[0]!.slice('error: '.length), expected), stderr).toBe(true);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
