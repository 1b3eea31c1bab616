import { localInvoker, type FunctionSettings, type Handler } from '../esm/invoker.ts';
import type { FunctionReply } from './functionProcess.ts';

// Child-process entry of functionProcess.ts: imports one handler, answers invocations over IPC.
const [modulePath, settingsJson] = process.argv.slice(2) as [string, string];
const settings = JSON.parse(settingsJson) as FunctionSettings;
const { handler } = (await import(modulePath)) as { handler: Handler<unknown, unknown> };
const invoke = localInvoker(settings, handler);

process.on('message', (request: { id: number; event: unknown }) => {
  invoke(request.event).then(
    (result): FunctionReply => ({ id: request.id, ok: true, result }),
    (e: unknown): FunctionReply => ({ id: request.id, ok: false, error: { name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) } }),
  ).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true } satisfies FunctionReply);
