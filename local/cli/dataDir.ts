import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as z from 'zod';
import { note, UsageError } from './run.ts';

/**
 * The local data dir: one place for what `npm run local`, `invoke` and the operator commands share
 * on this machine. The commands find it with --data-dir, default `.tapline/local` (relative to the
 * working directory).
 */
export const DEFAULT_DATA_DIR = '.tapline/local';

export interface DataDir {
  root: string;
  /** The embedded PostgreSQL cluster. */
  pg: string;
  /** Where the running `npm run local` listens (written when it starts). */
  connection: string;
  /** The local queues' messages, kept between runs (local/services/queueState.ts). */
  queues: string;
  /** Who uses the data dir now (lockDataDir). */
  lock: string;
  functionsLog: string;
}

export function dataDir(flag: string | undefined): DataDir {
  const root = resolve(flag ?? DEFAULT_DATA_DIR);
  return {
    root,
    pg: join(root, 'pg'),
    connection: join(root, 'connection.json'),
    queues: join(root, 'queues.json'),
    lock: join(root, 'lock'),
    functionsLog: join(root, 'functions.log'),
  };
}

/** A data dir as the user would type it: relative to the working directory when inside it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

const LockSchema = z.object({ pid: z.number().int().positive(), command: z.string(), startedAt: z.string(), processStart: z.string().optional() });
type Lock = z.infer<typeof LockSchema>;

export interface DataDirLock {
  release(): void;
}

/**
 * Takes the data dir for one command: the embedded PostgreSQL on it and its kept queues serve one
 * process at a time. The lock file holds the holder's pid and command. A lock whose process is gone
 * (killed, machine restarted) is stale: it is taken over, with a note. A process is recognised by
 * its pid and, on Linux, its start time, so a pid reused by an unrelated process is not mistaken
 * for the holder. Held by another live process: a UsageError naming it (exit 2).
 */
export function lockDataDir(dir: DataDir, command: string): DataDirLock {
  mkdirSync(dir.root, { recursive: true });
  const mine: Lock = { pid: process.pid, command, startedAt: new Date().toISOString(), ...optional(processStart(process.pid)) };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(dir.lock, `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o644 });
      const release = () => {
        if (readLock(dir.lock)?.pid === process.pid) unlinkSync(dir.lock);
        process.removeListener('exit', release);
      };
      // A command that exits without reaching its finally (process.exit in a signal handler) still lets go.
      process.on('exit', release);
      return { release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock(dir.lock);
    if (held && alive(held)) {
      throw new UsageError(
        `data dir ${shown(dir.root)} is in use by \`${held.command}\` (pid ${held.pid}, since ${held.startedAt}); ` + `wait for it to end, or pass another --data-dir`,
      );
    }
    note(
      held ? `note: ${shown(dir.lock)} was left by \`${held.command}\` (pid ${held.pid}), which is gone: taking it over` : `note: ${shown(dir.lock)} is unreadable: taking it over`,
    );
    unlinkSync(dir.lock);
  }
  throw new UsageError(`data dir ${shown(dir.root)} is being taken by another command right now; try again`);
}

/** The live holder of a data dir, if any (operator commands use it to say who holds the database). */
export function dataDirHolder(dir: DataDir): Lock | undefined {
  const held = readLock(dir.lock);
  return held && alive(held) ? held : undefined;
}

function readLock(file: string): Lock | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = LockSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // half-written or foreign: stale
  }
}

function alive(lock: Lock): boolean {
  try {
    process.kill(lock.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const started = processStart(lock.pid);
  return !(lock.processStart && started && started !== lock.processStart);
}

/** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), where there is a /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const optional = (processStart: string | undefined) => (processStart ? { processStart } : {});
