import { spawn } from 'node:child_process';
import type { FunctionSettings } from '../esm/invoker.ts';

/** What the child answers for one invocation. */
export type FunctionReply = { ready: true } | { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { name: string; message: string } };

export interface FunctionProcess<E, R> {
  invoke(event: E): Promise<R>;
  stop(): Promise<void>;
}

/** An invocation that failed in the function's own process, with the handler's error name and message. */
export class FunctionProcessError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A function's handler in a process of its own, as each Lambda sandbox is: its CPU is not charged
 * to the functions beside it (the bench runs the simulator, the producer, this way). Invocations
 * go over IPC; inside, the same localInvoker gives the handler its Context and deadline. The
 * child's output joins this process's stdout, where the function log captures it. Resolves once
 * the handler is imported (its init done, as after a cold start).
 */
export async function startFunctionProcess<E, R>(module: URL, settings: FunctionSettings, env: Record<string, string>): Promise<FunctionProcess<E, R>> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./functionServer.ts', import.meta.url).pathname, module.pathname, JSON.stringify(settings)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  let next = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${settings.functionName}'s process exited (${code}) before its handler was ready`)));
    child.on('message', (reply: FunctionReply) => {
      if ('ready' in reply) resolve();
    });
  });
  child.on('message', (reply: FunctionReply) => {
    if ('ready' in reply) return;
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.ok) waiter?.resolve(reply.result as R);
    else waiter?.reject(new FunctionProcessError(reply.error.name, reply.error.message));
  });
  child.on('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${settings.functionName}'s process exited (${signal ?? code}) during an invocation`));
    pending.clear();
  });
  await ready;
  return {
    invoke: (event) =>
      new Promise<R>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        child.send({ id, event });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
