import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { endScope, newScope, runInScope } from './invocationFence.ts';
import { lambdaContext } from './lambdaContext.ts';

export type LambdaInvoker<E, R> = (event: E) => Promise<R>;

export type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/** The function configuration the runtime gives a handler (CreateFunction's Timeout and MemorySize). */
export interface FunctionSettings {
  functionName: string;
  timeoutSeconds: number;
  memoryMb: number;
  region: string;
}

/** What Lambda reports when an invocation runs out of time. */
export class TaskTimedOutError extends Error {
  override readonly name = 'Sandbox.Timedout';
  constructor(requestId: string, timeoutSeconds: number) {
    super(`RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
  }
}

/**
 * Calls a handler in-process the way the Lambda runtime does: a fresh Context per invocation with
 * the function's memory, ARN and deadline. At the deadline the invocation fails with `Task timed
 * out after N.NN seconds` (also written to the function's log, as the runtime does) and is ended:
 * its AWS requests are aborted and its database connections closed (invocationFence.ts), so it
 * cannot keep writing beside the retry the mapping makes.
 */
export function localInvoker<E, R>(fn: FunctionSettings, handler: Handler<E, R>, onError: (functionName: string, error: unknown) => void = () => undefined): LambdaInvoker<E, R> {
  return async (event) => {
    const requestId = randomUUID();
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    const context = lambdaContext({ ...fn, requestId, deadline });
    const scope = newScope(requestId);
    const run = runInScope(scope, () => handler(event, context));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        endScope(scope);
        // Lambda discards whatever a timed-out invocation returns or throws afterwards.
        run.catch(() => undefined);
        process.stdout.write(`${new Date().toISOString()} ${requestId} Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds\n`);
        reject(new TaskTimedOutError(requestId, fn.timeoutSeconds));
      }, fn.timeoutSeconds * 1000);
    });
    try {
      return await Promise.race([run, timeout]);
    } catch (e) {
      onError(fn.functionName, e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };
}
