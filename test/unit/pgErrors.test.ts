import { describe, expect, it } from 'vitest';
import { isAuthenticationError, isConnectionError, isRetryableTransactionError } from '#core/db/pgErrors';

type Expected = 'connection' | 'transaction' | 'no';
const err = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

// Every code tapline decides on, with the decision and why (the module holds the same reasons).
const TABLE: Array<[code: string, expected: Expected, why: string]> = [
  ['57P01', 'connection', 'admin_shutdown: restart, failover, pg_terminate_backend'],
  ['57P02', 'connection', 'crash_shutdown'],
  ['57P03', 'connection', 'cannot_connect_now: server starting up'],
  ['57P05', 'connection', 'idle_session_timeout ended the session'],
  ['25P03', 'connection', 'idle_in_transaction_session_timeout ended the session; the transaction rolled back'],
  ['08000', 'connection', 'connection_exception'],
  ['08001', 'connection', 'unable to establish a connection'],
  ['08003', 'connection', 'connection does not exist'],
  ['08004', 'connection', 'server rejected the connection'],
  ['08006', 'connection', 'connection failure'],
  ['08007', 'connection', 'lost during COMMIT: idempotent writes make a rerun safe'],
  ['53300', 'connection', 'too_many_connections: slots free up'],
  ['ECONNRESET', 'connection', 'peer reset the socket'],
  ['ECONNREFUSED', 'connection', 'nothing listening yet (restart)'],
  ['ECONNABORTED', 'connection', 'socket aborted'],
  ['EPIPE', 'connection', 'write on a closed socket'],
  ['ETIMEDOUT', 'connection', 'TCP timeout'],
  ['EHOSTUNREACH', 'connection', 'no route for now'],
  ['ENETUNREACH', 'connection', 'network unreachable for now'],
  ['ENETDOWN', 'connection', 'network down'],
  ['EAI_AGAIN', 'connection', 'DNS temporarily failing'],
  ['ENOTFOUND', 'connection', 'NXDOMAIN: a private endpoint whose DNS lags a change; retries are bounded'],
  ['40001', 'transaction', 'serialization_failure: run the transaction again'],
  ['40P01', 'transaction', 'deadlock_detected: run the transaction again'],
  ['28P01', 'no', 'invalid_password: the same credentials fail again (external mode refreshes the secret)'],
  ['28000', 'no', 'invalid_authorization_specification'],
  ['3D000', 'no', 'the database does not exist'],
  ['42P01', 'no', 'undefined_table: a bug or a missing migration'],
  ['42601', 'no', 'syntax_error'],
  ['23505', 'no', 'unique_violation'],
  ['22P02', 'no', 'invalid_text_representation'],
  ['57014', 'no', 'query_canceled by statement_timeout: the same statement would time out again'],
  ['55P03', 'no', 'lock_not_available: the caller that set lock_timeout retries later'],
  ['53100', 'no', 'disk_full'],
  ['53200', 'no', 'out_of_memory'],
  ['08P01', 'no', 'protocol_violation: a client bug, not a transient fault'],
  ['XX000', 'no', 'internal_error'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'no', 'wrong certificate: a configuration fault'],
];

describe('database error classification', () => {
  it.each(TABLE)('%s -> %s (%s)', (code, expected) => {
    expect(isConnectionError(err(code)), 'isConnectionError').toBe(expected === 'connection');
    expect(isRetryableTransactionError(err(code)), 'isRetryableTransactionError').toBe(expected === 'transaction');
  });

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
  ])('takes node-postgres\'s code-less "%s" for a dead connection', (message) => {
    expect(isConnectionError(new Error(message))).toBe(true);
  });

  it('looks inside an AggregateError (one attempt per address) and an error cause', () => {
    const allRefused = new AggregateError([err('ECONNREFUSED'), err('ECONNREFUSED')], 'connect failed');
    const wrapped = new Error('query failed', { cause: err('57P01') });
    expect(isConnectionError(allRefused)).toBe(true);
    expect(isConnectionError(wrapped)).toBe(true);
    expect(isRetryableTransactionError(new Error('tx', { cause: err('40P01') }))).toBe(true);
  });

  it('retries nothing that is not an error with a known code or message', () => {
    for (const value of [undefined, null, 'ECONNRESET', 42, {}, new Error('something else'), { code: 57 }]) {
      expect(isConnectionError(value)).toBe(false);
      expect(isRetryableTransactionError(value)).toBe(false);
    }
  });

  it('tells a refused password apart from every retryable error', () => {
    expect(isAuthenticationError(err('28P01'))).toBe(true);
    expect(isAuthenticationError(err('28000'))).toBe(true);
    for (const [code] of TABLE.filter(([, e]) => e !== 'no')) expect(isAuthenticationError(err(code)), code).toBe(false);
  });
});
