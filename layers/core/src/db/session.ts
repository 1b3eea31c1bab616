/**
 * The narrow SQL surface tapline needs, so the same code runs on node-postgres (Lambda, local,
 * RDS Proxy) and on in-process PGlite with TimescaleDB (tests of the Timescale path).
 */
export type Rows = Array<Record<string, unknown>>;

export interface SqlSession {
  query<R extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs a multi-statement script through the simple query protocol. */
  exec(script: string): Promise<void>;
  /**
   * Runs single statements in order through the simple protocol, packed into as few messages as
   * fit under the proxy's pinning threshold (one round trip each), and returns their rows in order.
   */
  batch(statements: readonly string[]): Promise<Rows[]>;
  /**
   * Runs `COPY ... FROM STDIN` with this data (COPY does not pin RDS Proxy once done). Given chunks,
   * the COPY starts at once and takes each as it is made: where the driver streams (node-postgres
   * does), the server reads one while the caller makes the next. A throw from `data` fails the
   * COPY and rejects with that error.
   */
  copyFrom(statement: string, data: Buffer | AsyncIterable<Buffer>): Promise<void>;
}

export interface SqlTransaction extends SqlSession {
  /**
   * Runs the statements as `batch` does, as the transaction's last: the driver may send COMMIT in
   * the same message (node-postgres does: no round trip of its own). Nothing may run after it.
   */
  batchAndCommit(statements: readonly string[]): Promise<Rows[]>;
}

export interface SqlDatabase extends SqlSession {
  /** Runs `work` inside BEGIN/COMMIT on one connection; rolls back and rethrows on error. */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
}
