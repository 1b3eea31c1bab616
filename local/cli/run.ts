import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A wrong or missing flag: printed with the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the operator can act on (no database, unreachable endpoint): printed without a stack. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(options: T, argv = process.argv.slice(2)) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Runs a command's main and turns its outcome into an exit code: main's own number on success,
 * 2 for a usage error, 1 for anything thrown (with a one-line message; the stack only with DEBUG).
 */
export function runCli(usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      if (err instanceof UsageError) {
        console.error(`error: ${err.message}\n\n${usage}`);
        process.exit(2);
      }
      console.error(`error: ${err.message}`);
      if (process.env.DEBUG) console.error(err.stack);
      process.exit(1);
    },
  );
}

export function positiveNumber(flag: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${raw}"`);
  return n;
}

/** A TCP port to listen on; 0 lets the system choose one. */
export function portNumber(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`--${flag} must be a port number in 0..65535, got "${raw}"`);
  return n;
}

/** Repeated flags and comma-separated values both work: --source A --source B,C. */
export const listFlag = (values: string[] | undefined): string[] =>
  (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
