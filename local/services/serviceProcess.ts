import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LocalService {
  endpoint: string;
  stop(): Promise<void>;
}

export type EmulatorName = 'kinesis' | 'sqs';

/**
 * A local emulator in a child process. In AWS, Kinesis's and SQS's work happens elsewhere and a call
 * costs the function only its wait; in-process, the emulator's CPU would be charged to whatever runs
 * beside it. The bench runs them this way so a put or a send costs what it costs a Lambda function.
 */
export async function startServiceProcess(name: EmulatorName): Promise<LocalService> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./serviceServer.ts', import.meta.url).pathname, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the local ${name} process exited (${code}) before listening`)));
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
