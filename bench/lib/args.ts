import { integer, parseCommandLine, UsageError, type CommandLine } from '../../local/cli/run.ts';

export interface BenchArgs {
  json: boolean;
  quick: boolean;
  rounds: number;
  profile: boolean;
  only: Set<string> | undefined;
  out: string;
  /** With the e2e group: also time it with the live view serving this many viewers (one stalled). */
  viewers: number;
  /** Markdown files whose bench sections (between the bench markers) get this run's table or summary. */
  docs: string[];
}

export const SCENARIOS = ['ingest', 'e2e', 'cold', 'memory', 'proxy'] as const;

export const USAGE = `npm run bench -- [--rounds N] [--quick] [--json] [--profile] [--only ${SCENARIOS.join(',')}] [--out FILE] [--viewers N] [--docs FILE]
  --rounds N   rounds of the side-by-side ingest scenarios (default 5; --quick: 3)
  --quick      fewer rounds and a shorter end-to-end run (about half the time)
  --json       print the result as JSON instead of the table
  --profile    CPU-profile the merge and raw ingest rounds and print the top frames
  --only LIST  run only these scenario groups
  --out FILE   where the JSON result is written (default .tapline/bench.json, read by npm run cost)
  --viewers N  with e2e: also run it without and with the live view serving N viewers, one stalled,
               in alternating rounds, and report the ratio (docs/live-view.md)
  --docs FILE  also write the table, or its summary, into FILE between its bench markers
               (docs/performance.md the table, README.md the summary); may be given more than once`;

export const BENCH_OPTIONS = {
  json: { type: 'boolean', default: false },
  quick: { type: 'boolean', default: false },
  profile: { type: 'boolean', default: false },
  rounds: { type: 'string' },
  only: { type: 'string' },
  out: { type: 'string', default: '.tapline/bench.json' },
  viewers: { type: 'string' },
  docs: { type: 'string', multiple: true },
} as const;

/** The checked settings of parsed flags (a UsageError, exit 2, for a bad one). */
export function benchArgs(values: CommandLine<typeof BENCH_OPTIONS>['values']): BenchArgs {
  const names = values.only?.split(',').map((s) => s.trim());
  const unknown = names?.filter((n) => !(SCENARIOS as readonly string[]).includes(n)) ?? [];
  if (unknown.length > 0) throw new UsageError(`--only: unknown scenario group(s): ${unknown.join(', ')} (expected ${SCENARIOS.join(', ')})`);
  return {
    json: values.json,
    quick: values.quick,
    profile: values.profile,
    rounds: integer('rounds', values.rounds, { min: 1, max: 50, fallback: values.quick ? 3 : 5 }),
    only: names && new Set(names),
    out: values.out,
    viewers: integer('viewers', values.viewers, { min: 1, max: 200, fallback: 0 }),
    docs: values.docs ?? [],
  };
}

/** Parses argv (without node and script) as runCommand does. Pure, so the CLI contract is unit-tested. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  return benchArgs(parseCommandLine({ options: BENCH_OPTIONS }, argv).values);
}
