/**
 * The narrow SQL surface tapline needs, so the same code runs on node-postgres (Lambda, local,
 * RDS Proxy) and on in-process PGlite with TimescaleDB (tests of the Timescale path).
 */
export interface SqlSession {
  query<R extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs a multi-statement script through the simple query protocol. */
  exec(script: string): Promise<void>;
}

export interface SqlDatabase extends SqlSession {
  /** Runs `work` inside BEGIN/COMMIT on one connection; rolls back and rethrows on error. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
}
