import { readEnv } from '../env.ts';
import { connectDatabase, type Database } from './connect.ts';

let pending: Promise<Database> | undefined;

/**
 * The container's one database pool, created on first use and kept across invocations
 * (Lambda reuses the container; a pool per invocation would exhaust RDS Proxy connections).
 * A failed creation (e.g. Secrets Manager unreachable) is not cached: the next invocation tries again.
 */
export function database(): Promise<Database> {
  pending ??= connectDatabase(readEnv()).catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}
