import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationEndedError } from '../../local/esm/invocationFence.ts';
import { localInvoker, TaskTimedOutError } from '../../local/esm/invoker.ts';
import { dataOf, kinesisMapping, latch, newQueue, newStream, put, records, startEmulators, until, type Emulators } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

const depth = async (url: string) => {
  const { Attributes } = await emu.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
};

describe('the local invoker', () => {
  it('fails an invocation at its timeout as Lambda reports it, with the configured memory and region in the context', async () => {
    // Prepare
    let context: Context | undefined;
    const never = latch();
    const invoke = localInvoker({ functionName: 'slow', timeoutSeconds: 1, memoryMb: 1769, region: 'eu-west-1' }, async (_: unknown, c: Context) => {
      context = c;
      await never.promise;
    });

    // Act
    const error = await invoke({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    never.open();

    // Assess
    expect(error).toBeInstanceOf(TaskTimedOutError);
    expect((error as Error).name).toBe('Sandbox.Timedout');
    expect((error as Error).message).toMatch(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/);
    expect(context).toMatchObject({
      functionName: 'slow',
      memoryLimitInMB: '1769',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:slow',
    });
  });

  it('ends a timed-out invocation: a request in flight is aborted, and a later write fails and never reaches the queue', async () => {
    // Prepare: the handler long-polls an empty queue past its deadline, then tries to write.
    const queue = await newQueue(emu);
    const empty = await newQueue(emu);
    const resume = latch();
    let inFlight: Promise<unknown> | undefined;
    let lateWrite: Promise<unknown> | undefined;
    const invoke = localInvoker({ functionName: 'late', timeoutSeconds: 1, memoryMb: 128, region: 'us-east-1' }, async () => {
      inFlight = emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: empty.url, WaitTimeSeconds: 20 })).then(
        () => 'completed',
        (e: Error) => e.name,
      );
      await resume.promise;
      lateWrite = emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'written after the timeout' })).then(
        () => 'written',
        (e: unknown) => e,
      );
      await lateWrite;
    });

    // Act
    await expect(invoke({})).rejects.toBeInstanceOf(TaskTimedOutError);
    resume.open();
    await until('the late write settled', () => lateWrite !== undefined);

    // Assess
    expect(await inFlight).toBe('AbortError');
    expect(await lateWrite).toBeInstanceOf(InvocationEndedError);
    expect(await depth(queue.url)).toBe(0);
  });

  it('lets a Kinesis mapping retry a timed-out batch while the first attempt can no longer write', async () => {
    // Prepare: the first attempt hangs past the 1 s timeout, then tries to publish what it did.
    const stream = await newStream(emu);
    await put(emu, stream, records(2));
    const published = await newQueue(emu);
    const firstAttempt = latch();
    let attempts = 0;
    let lateWrite: Promise<unknown> | undefined;
    const handler = async (e: KinesisStreamEvent) => {
      attempts++;
      if (attempts === 1) {
        await firstAttempt.promise;
        lateWrite = emu.sqs.send(new SendMessageCommand({ QueueUrl: published.url, MessageBody: 'late' })).catch((err: unknown) => err);
        await lateWrite;
        return;
      }
      await emu.sqs.send(new SendMessageCommand({ QueueUrl: published.url, MessageBody: e.Records.map(dataOf).join(',') }));
    };
    const invoke = localInvoker({ functionName: 'ingest', timeoutSeconds: 1, memoryMb: 1024, region: 'us-east-1' }, handler);
    const { mapping, onFailure } = await kinesisMapping(emu, stream, invoke);

    // Act
    await mapping.start();
    await mapping.stop();
    firstAttempt.open();
    await until('the first attempt tried to write', () => lateWrite !== undefined);

    // Assess: the retry's write is the only one; nothing was discarded.
    expect(attempts).toBe(2);
    expect(await lateWrite).toBeInstanceOf(InvocationEndedError);
    expect(await depth(published.url)).toBe(1);
    expect(await depth(onFailure.url)).toBe(0);
    expect([...mapping.shards.values()][0]).toMatchObject({ failedInvocations: 1, done: 2 });
  });
});
