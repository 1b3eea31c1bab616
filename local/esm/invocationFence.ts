import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';

/**
 * Lambda ends a timed-out invocation by ending its process: nothing it started writes afterwards.
 * Handlers run in this process, so the emulator fences instead. Every invocation runs in its own
 * async context, and the clients handlers write through check it at their entry points:
 * - AWS SDK clients (SQS, Kinesis): a request in flight is aborted, a later one fails;
 * - pg: a connection with a statement in flight or a transaction open is closed, so PostgreSQL
 *   rolls the transaction back as it does when the process dies; a later statement fails (a
 *   ROLLBACK still goes through, so a connection the handler cleans up returns to the pool healthy).
 * The handler needs no change. What stays out of reach: code that only burns CPU, and writes
 * through anything else (files, other clients), which the in-process emulator cannot stop.
 */
export class InvocationEndedError extends Error {
  override readonly name = 'InvocationEndedError';
}

export interface InvocationScope {
  readonly requestId: string;
  ended: boolean;
  readonly controller: AbortController;
  /** pg clients this invocation issued statements on. */
  readonly clients: Set<pg.Client>;
}

interface ClientState {
  /** The invocation that issued the latest statement on this connection. */
  owner?: InvocationScope;
  inFlight: number;
  /** PostgreSQL's transaction status from the last ReadyForQuery: I (idle), T (in a transaction), E (failed one). */
  txStatus: string;
}

const current = new AsyncLocalStorage<InvocationScope>();
const states = new WeakMap<pg.Client, ClientState>();
let installed = false;

export function newScope(requestId: string): InvocationScope {
  return { requestId, ended: false, controller: new AbortController(), clients: new Set() };
}

export function runInScope<T>(scope: InvocationScope, fn: () => Promise<T>): Promise<T> {
  installInvocationFence();
  return current.run(scope, fn);
}

/** What the process's death would do: abort the invocation's requests and close its busy connections. */
export function endScope(scope: InvocationScope): void {
  scope.ended = true;
  scope.controller.abort(ended(scope));
  for (const client of scope.clients) {
    const state = states.get(client);
    if (state?.owner === scope && (state.inFlight > 0 || state.txStatus !== 'I')) {
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }
  }
  scope.clients.clear();
}

const ended = (scope: InvocationScope) => new InvocationEndedError(`invocation ${scope.requestId} timed out: Lambda would have ended its process`);

type AnyFn = (...args: unknown[]) => unknown;

function installInvocationFence(): void {
  if (installed) return;
  installed = true;
  for (const Client of [SQSClient, KinesisClient]) fenceAwsClient(Client.prototype as unknown as { send: AnyFn });
  fencePg();
}

function fenceAwsClient(proto: { send: AnyFn }): void {
  const send = proto.send;
  proto.send = function fencedSend(this: unknown, command: unknown, options?: unknown, callback?: unknown) {
    const scope = current.getStore();
    if (!scope) return send.call(this, command, options, callback);
    if (scope.ended) return Promise.reject(ended(scope));
    const opts = typeof options === 'object' && options !== null ? (options as { abortSignal?: AbortSignal }) : {};
    // A signal of its own per request: the SDK may set `onabort`, which a shared signal would let one request overwrite.
    const abortSignal = AbortSignal.any(opts.abortSignal ? [opts.abortSignal, scope.controller.signal] : [scope.controller.signal]);
    return send.call(this, command, { ...opts, abortSignal }, typeof options === 'function' ? options : callback);
  };
}

function fencePg(): void {
  const clientProto = pg.Client.prototype as unknown as { query: AnyFn };
  const query = clientProto.query;
  clientProto.query = function fencedQuery(this: pg.Client, ...args: unknown[]) {
    const scope = current.getStore();
    if (!scope) return query.apply(this, args);
    const config = args[0];
    const text = typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text;
    const callbackAt = args.findLastIndex((a) => typeof a === 'function');
    if (scope.ended && !(typeof text === 'string' && /^\s*ROLLBACK\b/i.test(text))) {
      const error = ended(scope);
      if (callbackAt < 0) return Promise.reject(error);
      process.nextTick(args[callbackAt] as AnyFn, error);
      return undefined;
    }
    const state = track(this);
    state.owner = scope;
    scope.clients.add(this);
    state.inFlight++;
    const settle = () => void state.inFlight--;
    if (callbackAt >= 0) {
      const callback = args[callbackAt] as AnyFn;
      args[callbackAt] = (...result: unknown[]) => {
        settle();
        return callback(...result);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args) as { then?: (ok: () => void, fail: () => void) => unknown } | undefined;
    // A submittable (COPY stream) is not counted in flight; its transaction status still is.
    if (typeof result?.then === 'function') result.then(settle, settle);
    else settle();
    return result;
  };

  // pg-pool hands a freed connection to a waiting caller from inside the releasing caller's
  // context; binding the callback keeps each statement attributed to the invocation that issued it.
  const poolProto = pg.Pool.prototype as unknown as { connect: AnyFn };
  const connect = poolProto.connect;
  poolProto.connect = function boundConnect(this: unknown, callback?: unknown) {
    return connect.call(this, typeof callback === 'function' ? AsyncResource.bind(callback as AnyFn) : callback);
  };
}

function track(client: pg.Client): ClientState {
  let state = states.get(client);
  if (!state) {
    const created: ClientState = { inFlight: 0, txStatus: 'I' };
    (client as unknown as { connection: NodeJS.EventEmitter }).connection.on('readyForQuery', (msg: { status?: string }) => {
      created.txStatus = msg.status ?? 'I';
    });
    states.set(client, (state = created));
  }
  return state;
}
