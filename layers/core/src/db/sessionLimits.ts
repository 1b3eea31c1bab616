/**
 * The server-side limits every tapline database session runs under, in one place. Two paths carry
 * them, never SET (which would pin an RDS Proxy connection):
 * - behind RDS Proxy (IAM auth) the functions' login role has them as role defaults, written by
 *   the deploy-time migration (functions/migrate/migrateOnDeploy.ts), so the startup message stays plain;
 * - on a direct connection (DATABASE_URL, DB_SECRET_ARN) they are startup parameters (db/connect.ts).
 */
export const SESSION_LIMITS = {
  /** Longer than any hot-path statement; the ingest retry loop and the mapping retry what it cancels. */
  statement_timeout: 15_000,
  /**
   * A container frozen or killed inside a transaction (Lambda timeout) leaves its session idle in
   * the transaction, holding the checkpoint and series row locks the next delivery of the same shard
   * waits for. The server ends such a session after this long. It must exceed the longest wait a
   * transaction makes between statements: an SQS send inside it (3 attempts x 10 s request timeout,
   * layers/core/src/aws.ts) is the worst case today.
   */
  idle_in_transaction_session_timeout: 45_000,
} as const;

export type SessionLimit = keyof typeof SESSION_LIMITS;

/**
 * Connections one container's pool may open. The database's connection budget (docs/deploy.md)
 * multiplies it by each function's reserved concurrency.
 */
export const POOL_MAX = 2;
