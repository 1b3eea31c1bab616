import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INVOKE_PAYLOAD_BYTES } from '../../local/esm/invokePayload.ts';
import { dataOf, kinesisMapping, newStream, put, records, REGION, startEmulators, until, type Emulators } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('Kinesis batches', () => {
  it('cuts batches at BatchSize, in sequence order', async () => {
    // Prepare: the records are in the stream before the mapping reads, so one GetRecords sees all 12.
    const stream = await newStream(emu);
    await put(emu, stream, records(12));
    const seen: string[][] = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e) => void seen.push(e.Records.map(dataOf)), { batchSize: 5 });

    // Act
    await mapping.start();
    await until('12 records delivered', () => seen.flat().length === 12);
    await mapping.stop();

    // Assess
    expect(seen.map((b) => b.length)).toEqual([5, 5, 2]);
    expect(seen.flat()).toEqual(records(12).map((r) => r.data));
  });

  it('holds a partial batch until the batching window ends, and sends a full one at once', async () => {
    // Prepare: a 300 s window on a clock the test moves, so real time never ends the window.
    const stream = await newStream(emu);
    let offsetMs = 0;
    const seen: string[][] = [];
    const { mapping } = await kinesisMapping(
      emu,
      stream,
      async (e) => void seen.push(e.Records.map(dataOf)),
      { batchSize: 4, batchWindowSeconds: 300 },
      {
        now: () => Date.now() + offsetMs,
      },
    );
    await mapping.start();

    // Act: 10 records make two full batches at once; the last 2 wait for the window.
    await put(emu, stream, records(10));
    await until('two full batches', () => seen.length === 2);
    await new Promise((ok) => setTimeout(ok, 100)); // many poll rounds: the window, not the pace, holds the rest
    const beforeWindowEnds = seen.length;
    offsetMs += 300_000;
    await until('the window flushes the rest', () => seen.length === 3);
    await mapping.stop();

    // Assess
    expect(beforeWindowEnds).toBe(2);
    expect(seen).toEqual([
      ['r0', 'r1', 'r2', 'r3'],
      ['r4', 'r5', 'r6', 'r7'],
      ['r8', 'r9'],
    ]);
  });

  it('cuts a batch before the serialized event passes 6 MB, counting every record envelope', async () => {
    // Prepare: 10,000 readings of 150 bytes. Their data is 2 MB of base64, their envelopes another ~5 MB:
    // a budget of data plus a few hundred bytes per record lets the whole lot through as one 7 MB event.
    const stream = await newStream(emu);
    const reading = (i: number) => JSON.stringify({ v: 1, id: `payload-${i}`, source: 'FBE_01', fact: 'temperature_c', ts: new Date(0).toISOString(), value: i }).padEnd(150);
    await put(
      emu,
      stream,
      Array.from({ length: 10_000 }, (_, i) => ({ partitionKey: 'FBE_01', data: reading(i) })),
    );
    const events: KinesisStreamEvent[] = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e) => void events.push(e), { batchSize: 10_000 });

    // Act
    await mapping.start();
    await until('every record delivered', () => events.reduce((n, e) => n + e.Records.length, 0) === 10_000);
    await mapping.stop();

    // Assess: each event fits; the first is as large as it can be (its successor's first record would not fit).
    expect(events.length).toBeGreaterThan(1);
    for (const e of events) expect(bytes(e)).toBeLessThanOrEqual(MAX_INVOKE_PAYLOAD_BYTES);
    const [first, second] = events;
    expect(bytes(first) + 1 + bytes(second!.Records[0])).toBeGreaterThan(MAX_INVOKE_PAYLOAD_BYTES);
    expect(events.flatMap((e) => e.Records.map(dataOf))).toEqual(Array.from({ length: 10_000 }, (_, i) => reading(i)));
  });

  it('builds each record as Lambda does, with an IAM role as invokeIdentityArn', async () => {
    // Prepare
    const stream = await newStream(emu);
    const [{ sequenceNumber, shardId }] = (await put(emu, stream, [{ partitionKey: 'FBE_07', data: 'hello' }])) as [{ sequenceNumber: string; shardId: string }];
    const events: KinesisStreamEvent[] = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e) => void events.push(e));

    // Act
    await mapping.start();
    await until('one event', () => events.length === 1);
    await mapping.stop();

    // Assess
    const r = events[0]!.Records[0]!;
    expect(r).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'FBE_07',
        sequenceNumber,
        data: Buffer.from('hello').toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/conformance-role',
      awsRegion: REGION,
      eventSourceARN: stream.arn,
    });
    // Seconds since the epoch with a millisecond fraction, as in AWS's sample event.
    expect(Math.abs(r.kinesis.approximateArrivalTimestamp - Date.now() / 1000)).toBeLessThan(120);
  });
});
