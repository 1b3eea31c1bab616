import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export type LambdaInvoker<E, R> = (event: E) => Promise<R>;

export type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * Calls a handler in-process the way the Lambda runtime does: a fresh Context per invocation with
 * a deadline from the configured timeout. Invocations that outlive the timeout count as failed.
 */
export function localInvoker<E, R>(
  functionName: string,
  handler: Handler<E, R>,
  timeoutSeconds: number,
  onError: (functionName: string, error: unknown) => void,
): LambdaInvoker<E, R> {
  return async (event) => {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
      memoryLimitInMB: '1024',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${functionName} timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
    });
    try {
      return await Promise.race([handler(event, context), timeout]);
    } catch (e) {
      onError(functionName, e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };
}
