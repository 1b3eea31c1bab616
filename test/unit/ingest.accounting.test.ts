import { describe, expect, it } from 'vitest';
import { DeadLetterEntrySchema } from '#core/ingest/deadLetter';
import { ingestBatch, type IngestReport } from '#core/ingest/ingestBatch';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { aggregate } from '#core/kpl/aggregate';
import { seriesKey } from '#core/reading';
import { loadRuleSet } from '#core/rules/ruleSet';
import type { TelemetryRecord } from '#core/record';
import { MemoryIngestStore, recordingSqs } from '../helpers/memoryIngestStore.ts';
import { BASE_MS, streamRecord, telemetry } from '../helpers/records.ts';

const ruleSet = loadRuleSet({ version: 't.1', rules: [{ id: 'hot', description: 'too warm', when: [{ fact: 'temperature_c', op: '>', value: 1000 }] }] });
const window = { maxPastSeconds: 7 * 86_400, maxFutureSeconds: 300 };
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };
const NO_WAIT = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

function setup(mode: 'merge' | 'raw' = 'merge', rowChunk?: number) {
  const store = new MemoryIngestStore();
  const sqs = recordingSqs();
  let seq = 1_000;
  const put = (r: TelemetryRecord | string) => streamRecord(r, ++seq);
  const ingest = (batch: readonly StreamRecord[]) =>
    ingestBatch(batch, {
      store,
      sqs: sqs.client,
      queues,
      ruleSet,
      window,
      mode,
      ...(rowChunk ? { rowChunk } : {}),
      now: () => BASE_MS + 60_000,
      dbRetry: NO_WAIT,
      sendRetry: NO_WAIT,
    });
  const samples = (fact = 'temperature_c') => store.samplesBySeries().get(seriesKey('FBE_01', fact)) ?? 0;
  const deadLetters = () => (sqs.sent.get(queues['ingest-dlq']) ?? []).map((b) => DeadLetterEntrySchema.parse(JSON.parse(b)));
  return { store, sqs, put, ingest, samples, deadLetters };
}

/** Every record in exactly one class. */
const accounted = (r: IngestReport) => r.written + r.duplicates + r.redelivered + r.deadLettered;

describe.each(['merge', 'raw'] as const)('ingest accounting in %s mode (in-memory store)', (mode) => {
  it('counts a reading resent inside one batch once, as one sample and one duplicate', async () => {
    // Prepare: the AWS SDK resent a whole PutRecords call: same reading under two sequence numbers.
    const { put, ingest, samples, store } = setup(mode);
    const a = telemetry({ value: 10 }, -2_000);
    const b = telemetry({ value: 90 }, -1_000);
    // Act
    const report = await ingest([put(a), put(b), put(a), put(b)]);
    // Assess
    expect(report).toMatchObject({ records: 4, written: 2, duplicates: 2, redelivered: 0, deadLettered: 0 });
    expect(samples()).toBe(2);
    const max = Math.max(...store.tables.rows.map((r) => r.max ?? -Infinity));
    const min = Math.min(...store.tables.rows.map((r) => r.min ?? Infinity));
    expect([min, max]).toEqual([10, 90]);
  });

  it('counts a resend of a stored reading as a duplicate when it arrives with a newer one', async () => {
    const { put, ingest, samples } = setup(mode);
    const r1 = telemetry({ value: 1 }, -3_000);
    await ingest([put(r1)]);
    // Act
    const report = await ingest([put(r1), put(telemetry({ value: 2 }, -1_000))]);
    // Assess
    expect(report).toMatchObject({ written: 1, duplicates: 1, late: 0 });
    expect(samples()).toBe(2);
  });

  it('writes new readings older than the stored one, beside a resend of it, and calls them late', async () => {
    // Prepare: r1 stored; then two distinct older readings (a device catching up) plus r1's resend.
    const { put, ingest, samples, store } = setup(mode);
    const r1 = telemetry({ value: 5 }, -1_000);
    await ingest([put(r1)]);
    // Act
    const report = await ingest([put(telemetry({ value: 3 }, -3_000)), put(telemetry({ value: 4 }, -2_000)), put(r1)]);
    // Assess: nothing lost, nothing counted twice.
    expect(report).toMatchObject({ written: 2, late: 2, duplicates: 1, deadLettered: 0 });
    expect(samples()).toBe(3);
    expect(Math.min(...store.tables.rows.map((r) => r.min ?? Infinity))).toBe(3);
  });

  it('dead-letters a reading whose identity is stored with a different value, keeping the stored one', async () => {
    const { put, ingest, samples, deadLetters } = setup(mode);
    const r1 = telemetry({ value: 5 }, -1_000);
    await ingest([put(r1)]);
    // Act: same source, fact and ts; another value (a clock collision or a buggy producer).
    const report = await ingest([put({ ...r1, value: 6 })]);
    // Assess
    expect(report).toMatchObject({ written: 0, duplicates: 0, deadLettered: 1, conflicts: 1 });
    expect(samples()).toBe(1);
    expect(deadLetters().map((e) => e.reason)).toEqual(['identity_conflict']);
  });

  it('dead-letters the second of two readings that disagree inside one batch', async () => {
    const { put, ingest, samples, deadLetters } = setup(mode);
    const r1 = telemetry({ value: 5 }, -1_000);
    const report = await ingest([put(r1), put({ ...r1, id: 'other-id' })]);
    expect(report).toMatchObject({ written: 1, deadLettered: 1, conflicts: 1 });
    expect(samples()).toBe(1);
    expect(deadLetters()[0]?.detail).toContain('of this batch');
  });

  it('skips a redelivered batch as redelivered, whatever its boundaries, and dead-letters an invalid record once', async () => {
    const { put, ingest, samples, deadLetters } = setup(mode);
    const batch = [put(telemetry({ value: 1 }, -3_000)), put('bm90IGpzb24='), put(telemetry({ value: 2 }, -2_000))];
    await ingest(batch.slice(0, 2));
    // Act: Lambda retries from the second record with the third appended, then the whole window again.
    const again = await ingest(batch.slice(1));
    const third = await ingest(batch);
    // Assess
    expect(again).toMatchObject({ written: 1, redelivered: 1, deadLettered: 0 });
    expect(third).toMatchObject({ written: 0, redelivered: 3, duplicates: 0, deadLettered: 0 });
    expect(samples()).toBe(2);
    expect(deadLetters().map((e) => e.reason)).toEqual(['not_json']);
  });

  it('dead-letters a reading older than the raw retention instead of writing into a dropped range', async () => {
    const { put, ingest, store, deadLetters } = setup(mode);
    store.rawRetentionDays = 1;
    const report = await ingest([put(telemetry({}, -2 * 86_400_000)), put(telemetry({}, -1_000))]);
    expect(report).toMatchObject({ written: 1, deadLettered: 1 });
    expect(deadLetters()[0]).toMatchObject({ reason: 'ts_out_of_range' });
    expect(deadLetters()[0]?.detail).toContain('raw retention 1 days');
  });

  it('accounts for every record of a batch in exactly one class', async () => {
    const { put, ingest } = setup(mode);
    const r = telemetry({ value: 1 }, -4_000);
    const first = await ingest([put(r), put('%%'), put(r), put({ ...r, value: 2 }), put(telemetry({}, -3_000))]);
    expect(accounted(first)).toBe(first.records);
    expect(first).toMatchObject({ written: 2, duplicates: 1, deadLettered: 2 });
  });
});

describe('database retries (in-memory store)', () => {
  it('keeps looking up every reading after a unique violation, also past a later failure of another kind', async () => {
    // Prepare: the source state is put back behind a stored reading (raw mode: the unique key notices).
    const { put, ingest, store, samples } = setup('raw');
    const r2 = telemetry({ value: 2 }, -2_000);
    await ingest([put(telemetry({ value: 1 }, -3_000))]);
    const facts = new Map(store.tables.facts);
    await ingest([put(r2)]);
    store.tables.facts = facts;
    // The attempt after the unique violation loses its connection at the commit.
    store.failNextCommits.push(Object.assign(new Error('connection lost'), { code: '57P01' }));

    // Act: three attempts in all (NO_WAIT).
    const report = await ingest([put(r2), put(telemetry({ value: 3 }, -1_000))]);

    // Assess
    expect(report).toMatchObject({ written: 1, duplicates: 1, deadLettered: 0 });
    expect(samples()).toBe(3);
  });

  it('streams a retried raw batch in chunks as the first attempt did, though the batch is decoded by then', async () => {
    // Prepare
    const { put, ingest, store } = setup('raw', 2);
    await ingest([put(telemetry({ value: 0 }, -9_000))]);
    store.insertedChunks.length = 0;
    store.failNextCommits.push(Object.assign(new Error('connection lost'), { code: '57P01' }));

    // Act
    const report = await ingest(Array.from({ length: 6 }, (_, i) => put(telemetry({ value: i }, -6_000 + i * 1_000))));

    // Assess: two attempts, each in three chunks of two rows.
    expect(report).toMatchObject({ written: 6, duplicates: 0 });
    expect(store.insertedChunks).toEqual([2, 2, 2, 2, 2, 2]);
  });
});

describe('outbox after commit (in-memory store)', () => {
  it('dead-letters after the commit and never inside it: a failed commit sends nothing, its retry sends once', async () => {
    const { put, ingest, store, deadLetters } = setup();
    store.failNextCommits.push(Object.assign(new Error('connection lost'), { code: '57P01' }));
    const report = await ingest([put('%%'), put(telemetry())]);
    expect(report).toMatchObject({ deadLettered: 1, written: 1, published: 1 });
    expect(deadLetters()).toHaveLength(1);
  });

  it('keeps messages a queue refused in the outbox and sends them with the next batch', async () => {
    const { put, ingest, store, sqs, deadLetters } = setup();
    sqs.refuse.on = true;
    const first = await ingest([put('%%')]);
    expect(first).toMatchObject({ deadLettered: 1, published: 0, publishFailed: 1 });
    expect(store.unsent('ingest-dlq')).toHaveLength(1);
    // Act
    sqs.refuse.on = false;
    const second = await ingest([put(telemetry())]);
    // Assess
    expect(second).toMatchObject({ published: 1, publishFailed: 0 });
    expect(deadLetters()).toHaveLength(1);
    expect(store.unsent('ingest-dlq')).toHaveLength(0);
  });
});

describe('KPL aggregated records (in-memory store)', () => {
  const aggregated = (records: ReadonlyArray<TelemetryRecord | string>, seq: number) => {
    // One key, so one aggregate holds them all, as the producer packs one source's readings.
    const users = records.map((r) => ({ partitionKey: 'FBE_01', data: Buffer.from(typeof r === 'string' ? r : JSON.stringify(r)) }));
    const [agg] = aggregate(users, { maxBytes: 1_000_000 });
    return streamRecord(agg!.data.toString('base64'), seq, { partitionKey: agg!.partitionKey });
  };

  it('unpacks an aggregate into its readings, each counted once, beside plain records', async () => {
    // Prepare
    const { put, ingest, samples } = setup();
    const readings = [telemetry({ value: 1 }, -3_000), telemetry({ value: 2 }, -2_000), telemetry({ value: 3 }, -1_000)];
    // Act
    const report = await ingest([aggregated(readings, 10), put(telemetry({ fact: 'ph', value: 5 }, -500))]);
    // Assess
    expect(report).toMatchObject({ kinesisRecords: 2, records: 4, written: 4, deadLettered: 0 });
    expect(samples()).toBe(3);
  });

  it('dead-letters an invalid user record alone, with its aggregate position, and writes the others', async () => {
    const { ingest, samples, deadLetters } = setup();
    const report = await ingest([aggregated([telemetry({ value: 1 }, -2_000), '{"v":1,', telemetry({ value: 2 }, -1_000)], 10)]);
    expect(report).toMatchObject({ records: 3, written: 2, deadLettered: 1 });
    expect(samples()).toBe(2);
    expect(deadLetters()).toMatchObject([
      { reason: 'not_json', sequenceNumber: '10', subSequenceNumber: 1, partitionKey: 'FBE_01', data: Buffer.from('{"v":1,').toString('base64') },
    ]);
  });

  it('dead-letters a corrupt aggregate whole, with the reason it cannot be unpacked', async () => {
    const { ingest, deadLetters } = setup();
    const good = aggregated([telemetry({ value: 1 })], 10);
    const bytes = Buffer.from(good.data, 'base64');
    bytes[bytes.length - 1]! ^= 0xff; // the MD5 no longer matches
    const report = await ingest([{ ...good, data: bytes.toString('base64') }]);
    expect(report).toMatchObject({ records: 1, written: 0, deadLettered: 1 });
    expect(deadLetters()[0]).toMatchObject({ reason: 'bad_aggregate', sequenceNumber: '10' });
    expect(deadLetters()[0]?.detail).toMatch(/^bad_md5/);
    expect(deadLetters()[0]?.subSequenceNumber).toBeUndefined();
  });

  it('counts a redelivered aggregate as redelivered, every user record of it', async () => {
    // A partial batch response can only name the Kinesis record: Lambda then redelivers the whole
    // aggregate. tapline returns none, but a retry does the same; the identity check absorbs it.
    const { ingest, samples, deadLetters } = setup();
    const batch = [aggregated([telemetry({ value: 1 }, -2_000), 'not json', telemetry({ value: 2 }, -1_000)], 10)];
    await ingest(batch);
    const again = await ingest(batch);
    expect(again).toMatchObject({ records: 3, written: 0, redelivered: 3, deadLettered: 0 });
    expect(samples()).toBe(2);
    expect(deadLetters()).toHaveLength(1);
  });
});
