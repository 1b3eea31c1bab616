/**
 * What a database error means for a retry, by SQLSTATE (PostgreSQL, RDS Proxy) or Node socket
 * code. Every write tapline makes is idempotent, so running a statement or a whole transaction
 * again is always safe; the question is only whether it can succeed this time.
 *
 * - `connection`: the socket is gone or could not be opened, and a new one may well work (server
 *   restart, failover, proxy cut, Lambda freeze/thaw, a network or DNS blip, a full connection
 *   slot table). Retry on a fresh connection, with backoff.
 * - `transaction`: the server rolled the transaction back to resolve a conflict with another one;
 *   the connection is fine. Run the whole transaction again.
 * - codes not listed: retrying cannot help (bad SQL, a constraint, a statement timeout, wrong
 *   credentials, a missing database): fail, so the event source mapping retries later and the
 *   alarms see it.
 */
type Retry = 'connection' | 'transaction';

const RETRYABLE: Readonly<Record<string, Retry>> = {
  // SQLSTATE class 08: connection exceptions
  '08000': 'connection', // connection_exception
  '08001': 'connection', // sqlclient_unable_to_establish_sqlconnection
  '08003': 'connection', // connection_does_not_exist
  '08004': 'connection', // sqlserver_rejected_establishment_of_sqlconnection (e.g. starting up)
  '08006': 'connection', // connection_failure
  '08007': 'connection', // transaction_resolution_unknown: lost during COMMIT; re-running is idempotent
  // class 57: the server ended the session
  '57P01': 'connection', // admin_shutdown (restart, pg_terminate_backend, RDS maintenance)
  '57P02': 'connection', // crash_shutdown
  '57P03': 'connection', // cannot_connect_now (starting up, failover in progress)
  '57P05': 'connection', // idle_session_timeout
  '25P03': 'connection', // idle_in_transaction_session_timeout: the session is gone, the transaction rolled back
  '53300': 'connection', // too_many_connections: slots free up as other sessions end
  // class 40: transaction rollback
  '40001': 'transaction', // serialization_failure
  '40P01': 'transaction', // deadlock_detected
  // Node socket and DNS errors
  ECONNRESET: 'connection',
  ECONNREFUSED: 'connection', // nothing listening yet: restart or failover
  ECONNABORTED: 'connection',
  EPIPE: 'connection',
  ETIMEDOUT: 'connection',
  EHOSTUNREACH: 'connection',
  ENETUNREACH: 'connection',
  ENETDOWN: 'connection',
  EAI_AGAIN: 'connection', // DNS temporarily unavailable
  // NXDOMAIN: also what a wrong host gives, but a private endpoint's DNS can lag behind a change
  // of the proxy or instance; the retries are bounded, so a wrong host still fails within seconds.
  ENOTFOUND: 'connection',
};

/** node-postgres reports a dead or timed-out socket with these messages and no code. */
const CONNECTION_MESSAGES = /Connection terminated|Client has encountered a connection error|not queryable/i;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** Every error inside `e`: itself, the attempts of an AggregateError (one per address tried), its cause. */
function* errorsIn(e: unknown, depth = 0): Generator<ErrorLike> {
  if (depth > 3 || typeof e !== 'object' || e === null) return;
  const err = e as ErrorLike;
  yield err;
  if (Array.isArray(err.errors)) for (const inner of err.errors) yield* errorsIn(inner, depth + 1);
  if (err.cause !== undefined) yield* errorsIn(err.cause, depth + 1);
}

function classify(e: unknown): Retry | undefined {
  for (const err of errorsIn(e)) {
    const retry = typeof err.code === 'string' ? RETRYABLE[err.code] : undefined;
    if (retry) return retry;
    if (typeof err.message === 'string' && CONNECTION_MESSAGES.test(err.message)) return 'connection';
  }
  return undefined;
}

/** Errors after which the socket is gone or could not be opened, and a fresh connection may succeed. */
export function isConnectionError(e: unknown): boolean {
  return classify(e) === 'connection';
}

/** The server rolled the transaction back (deadlock, serialization failure): run it again as a whole. */
export function isRetryableTransactionError(e: unknown): boolean {
  return classify(e) === 'transaction';
}

/** The server refused the credentials (28P01 invalid_password, 28000 invalid_authorization_specification). */
export function isAuthenticationError(e: unknown): boolean {
  for (const err of errorsIn(e)) if (err.code === '28P01' || err.code === '28000') return true;
  return false;
}
