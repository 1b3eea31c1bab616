export interface BenchArgs {
  json: boolean;
  quick: boolean;
  rounds: number;
  profile: boolean;
  only: Set<string> | undefined;
  out: string;
  /** With the e2e group: also time it with the live view serving this many viewers (one stalled). */
  viewers: number;
}

export class BenchArgsError extends Error {
  override readonly name = 'BenchArgsError';
}

export const SCENARIOS = ['ingest', 'e2e', 'cold', 'memory', 'proxy'] as const;

export const USAGE = `npm run bench -- [--rounds N] [--quick] [--json] [--profile] [--only ${SCENARIOS.join(',')}] [--out FILE] [--viewers N]
  --rounds N   rounds of the side-by-side ingest scenarios (default 5; --quick: 3)
  --quick      fewer rounds and a shorter end-to-end run (about half the time)
  --json       print the result as JSON instead of the table
  --profile    CPU-profile the merge and raw ingest rounds and print the top frames
  --only LIST  run only these scenario groups
  --out FILE   where the JSON result is written (default .tapline/bench.json, read by npm run cost)
  --viewers N  with e2e: also run it without and with the live view serving N viewers, one stalled,
               in alternating rounds, and report the ratio (docs/live-view.md)`;

/** Parses argv (without node and script). Pure, so the CLI contract is unit-tested. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { json: false, quick: false, rounds: 0, profile: false, only: undefined, out: '.tapline/bench.json', viewers: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BenchArgsError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--rounds') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new BenchArgsError('--rounds must be an integer in 1..50');
      args.rounds = n;
    } else if (a === '--only') {
      const names = value().split(',').map((s) => s.trim());
      const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
      if (unknown.length > 0) throw new BenchArgsError(`unknown scenario group(s): ${unknown.join(', ')}`);
      args.only = new Set(names);
    } else if (a === '--out') args.out = value();
    else if (a === '--viewers') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 200) throw new BenchArgsError('--viewers must be an integer in 1..200');
      args.viewers = n;
    }
    else throw new BenchArgsError(`unknown option ${a}`);
  }
  if (args.rounds === 0) args.rounds = args.quick ? 3 : 5;
  return args;
}
