import type { Context } from 'aws-lambda';
import { functionArn } from './localArns.ts';

export interface ContextSettings {
  functionName: string;
  memoryMb: number;
  region: string;
  requestId: string;
  /** Epoch ms at which the invocation times out. */
  deadline: number;
}

/** The Context the Lambda runtime hands a handler: the one factory of the local invoker and the tests. */
export function lambdaContext(s: ContextSettings): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: s.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(s.region, s.functionName),
    memoryLimitInMB: String(s.memoryMb),
    awsRequestId: s.requestId,
    logGroupName: `/aws/lambda/${s.functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${s.requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, s.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
