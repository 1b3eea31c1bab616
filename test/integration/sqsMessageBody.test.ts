import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newQueue, startEmulators, type Emulators } from '../helpers/esm.ts';

// The local SQS takes exactly the message bodies AWS SQS takes (aws-semantics.md, "Added after the
// second review"), through the real SDK, which also checks the MD5 of each body both ways.
let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

const ACCEPTED: Array<[string, string]> = [
  ['tab, line feed and carriage return', 'a\tb\nc\rd'],
  ['the top of the first range (U+D7FF)', '\uD7FF'],
  ['private use and the replacement character (U+E000, U+FFFD)', '\uE000\uFFFD'],
  ['an emoji (U+1F37A, a surrogate pair in JavaScript)', 'beer 🍺'],
  ['a rare CJK ideograph (U+20BB7)', '𠮷野家'],
  ['the last code point (U+10FFFF)', '\u{10FFFF}'],
];

const REFUSED: Array<[string, string]> = [
  ['NUL', 'a\u0000b'],
  ['a control character (U+0008)', '\u0008'],
  ['a vertical tab (U+000B)', '\u000B'],
  ['U+FFFE', '\uFFFE'],
  ['U+FFFF', '\uFFFF'],
  ['a lone high surrogate', 'x\uD83Cy'],
  ['a lone low surrogate', 'x\uDF7Ay'],
];

async function receiveBodies(url: string): Promise<string[]> {
  const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (out.Messages ?? []).map((m) => m.Body ?? '');
}

describe('local SQS message bodies', () => {
  it.each(ACCEPTED)('SendMessage takes %s and ReceiveMessage returns it unchanged', async (_, body) => {
    const queue = await newQueue(emu);
    await emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    expect(await receiveBodies(queue.url)).toEqual([body]);
  });

  it.each(REFUSED)('SendMessage refuses %s with InvalidMessageContents', async (_, body) => {
    const queue = await newQueue(emu);
    // fauxqs names the error with its query-protocol prefix (AWS.SimpleQueueService.InvalidMessageContents).
    await expect(emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }))).rejects.toMatchObject({
      name: expect.stringMatching(/InvalidMessageContents$/),
    });
    expect(await receiveBodies(queue.url)).toEqual([]);
  });

  it('SendMessageBatch takes every accepted body and refuses each other entry on its own', async () => {
    // Prepare
    const queue = await newQueue(emu);
    const accepted = ACCEPTED.slice(0, 5).map(([, body], i) => ({ Id: `ok${i}`, MessageBody: body }));
    const refused = REFUSED.slice(0, 5).map(([, body], i) => ({ Id: `bad${i}`, MessageBody: body }));

    // Act
    const out = await emu.sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: [...accepted, ...refused] }));

    // Assess
    expect((out.Successful ?? []).map((s) => s.Id).sort()).toEqual(accepted.map((e) => e.Id).sort());
    expect((out.Failed ?? []).map((f) => [f.Id, f.Code]).sort()).toEqual(refused.map((e) => [e.Id, 'InvalidMessageContents']).sort());
    expect((await receiveBodies(queue.url)).sort()).toEqual(accepted.map((e) => e.MessageBody).sort());
  });
});
