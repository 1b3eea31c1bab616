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
   * Runs `COPY ... FROM STDIN` with this data (one round trip; COPY does not pin RDS Proxy once
   * done). The COPY may start while its data is still being made: a rejected `data` fails the COPY
   * and rejects with the same error. `onSent`, where the driver can tell, is called once the data
   * is on its way to the server.
   */
  copyFrom(statement: string, data: Buffer | Promise<Buffer>, onSent?: () => void): Promise<void>;
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
