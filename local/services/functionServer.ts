import { localInvoker, type FunctionSettings, type Handler } from '../esm/invoker.ts';
import type { FunctionReply } from './functionProcess.ts';

// Child-process entry of functionProcess.ts: imports one handler, answers invocations over IPC.
const [modulePath, settingsJson] = process.argv.slice(2) as [string, string];
const settings = JSON.parse(settingsJson) as FunctionSettings;
const { handler } = (await import(modulePath)) as { handler: Handler<unknown, unknown> };
const invoke = localInvoker(settings, handler);

const failed = (id: number, e: unknown): FunctionReply => ({ id, ok: false, error: { name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) } });

async function answer(request: { id: number; event: unknown }): Promise<void> {
  const reply = await invoke(request.event).then(
    (result): FunctionReply => ({ id: request.id, ok: true, result }),
    (e: unknown) => failed(request.id, e),
  );
  try {
    process.send?.(reply);
  } catch (e) {
    // A result IPC cannot carry (a BigInt, a cycle) throws here: that invocation fails with the reason
    // instead of the whole process dying with every other invocation in flight.
    process.send?.(failed(request.id, e));
  }
}

// A rejection left here (the IPC channel gone) is unhandled on purpose: the process dies, and the parent
// fails every invocation in flight with that exit.
process.on('message', (request: { id: number; event: unknown }) => void answer(request));
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true } satisfies FunctionReply);
