import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LocalSqs } from './sqs.ts';

/**
 * The same local SQS in a child process. In AWS, SQS's work happens elsewhere and a send costs the
 * function only its wait; in-process, fauxqs's CPU would be charged to whatever is measured beside
 * it. The bench runs it this way so a publish costs what it costs a Lambda function.
 */
export async function startSqsProcess(): Promise<LocalSqs> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./sqsServer.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the local SQS process exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
