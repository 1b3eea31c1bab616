import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionProcessError, startFunctionProcess, type FunctionProcess } from '../../local/services/functionProcess.ts';

type Event = { reply: 'bigint' | 'text' };
let fn: FunctionProcess<Event, unknown>;

beforeAll(async () => {
  const settings = { functionName: 'reply', timeoutSeconds: 30, memoryMb: 128, region: 'eu-west-1' };
  fn = await startFunctionProcess(new URL('./fixtures/replyHandler.ts', import.meta.url), settings, {});
});
afterAll(() => fn?.stop());

describe('a handler in a process of its own', () => {
  it('fails an invocation whose result IPC cannot carry, with the reason, and keeps serving', async () => {
    // Act
    const unsendable = fn.invoke({ reply: 'bigint' });
    const next = fn.invoke({ reply: 'text' });

    // Assess
    await expect(unsendable).rejects.toThrow(FunctionProcessError);
    await expect(unsendable).rejects.toThrow(/BigInt/);
    await expect(next).resolves.toEqual({ text: 'ok' });
  });
});
