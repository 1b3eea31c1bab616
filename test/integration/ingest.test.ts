import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LocalEnvironment } from '../../local/environment.ts';
import { kinesisEvent } from '../../local/events/kinesisEvent.ts';
import { breweryRuleSet } from '#core/rules/brewery';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { aggregate } from '#core/kpl/aggregate';
import { ingestBatch } from '#core/ingest/ingestBatch';
import { fromKinesisEvent } from '#core/ingest/streamRecord';
import type { IngestStore } from '#core/ingest/store';
import { recordingSqs } from '../helpers/memoryIngestStore.ts';
import { streamRecord, telemetry } from '../helpers/records.ts';
import { drainEvents, drainQueue, lambdaContext, startEnvironment } from '../helpers/pipeline.ts';

let env: LocalEnvironment;
type IngestModule = typeof import('../../functions/ingest/handler.ts');
const loadHandler = async (): Promise<IngestModule> => import('../../functions/ingest/handler.ts');
const invoke = async (m: IngestModule, event: ReturnType<typeof kinesisEvent>) => await m.handler(event, lambdaContext());
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };
const count = async (sql: string) => (await env.db.query<{ n: number }>(sql)).rows[0]?.n;

beforeAll(async () => {
  env = await startEnvironment();
});
afterAll(async () => env?.stop());
beforeEach(async () => {
  await env.db.exec('TRUNCATE telemetry_events, ingest_checkpoint, ingest_source, rule_state, outbox');
});

describe('ingest handler against embedded PostgreSQL and the SQS emulator', () => {
  it('writes one merged row per source and fact, with value columns by type', async () => {
    // Prepare
    const ingest = await loadHandler();
    const records = [
      telemetry({ fact: 'temperature_c', value: 64.5 }, -2_000),
      telemetry({ fact: 'temperature_c', value: 90 }, -1_500),
      telemetry({ fact: 'temperature_c', value: 65.1 }, -1_000),
      telemetry({ fact: 'pump_running', value: true }),
      telemetry({ fact: 'state', value: "mashing's \\ $& ✓" }),
    ];
    // Act
    const response = await invoke(ingest, kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const { rows } = await env.db.query<Record<string, unknown>>(
      'SELECT fact_name, value_float, value_bool, value_str, sample_count, value_min, value_max, event_id FROM telemetry_events ORDER BY fact_name',
    );
    expect(rows).toEqual([
      { fact_name: 'pump_running', value_float: 1, value_bool: true, value_str: null, sample_count: 1, value_min: 1, value_max: 1, event_id: records[3]!.id },
      { fact_name: 'state', value_float: null, value_bool: null, value_str: "mashing's \\ $& ✓", sample_count: 1, value_min: null, value_max: null, event_id: records[4]!.id },
      { fact_name: 'temperature_c', value_float: 65.1, value_bool: null, value_str: null, sample_count: 3, value_min: 64.5, value_max: 90, event_id: records[2]!.id },
    ]);
  });

  it('skips a redelivered window exactly, even with different batch boundaries', async () => {
    // Prepare: records a,b,c delivered and committed.
    const ingest = await loadHandler();
    const recs = [-4_000, -3_000, -2_000, -1_000].map((o, i) => telemetry({ value: i }, o));
    const all = kinesisEvent(recs).Records;
    await invoke(ingest, { Records: all.slice(0, 3) });
    // Act: Lambda redelivers from b (partial response / retry) with d appended.
    const response = await invoke(ingest, { Records: all.slice(1) });
    await invoke(ingest, { Records: all.slice(1) });
    // Assess: every sample counted once, nothing duplicated.
    expect(response.batchItemFailures).toEqual([]);
    expect(await count('SELECT sum(sample_count)::int AS n FROM telemetry_events')).toBe(4);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events')).toBe(2);
  });

  it('dead-letters invalid records with payload, reason and position, and writes their neighbours', async () => {
    // Prepare
    const ingest = await loadHandler();
    await drainQueue(env.sqs, env.queues.ingestDlq);
    const event = kinesisEvent([telemetry({ value: 1 }), Buffer.from('not json'), telemetry({ fact: 'ph', value: 5.4 }), '@@not-base64@@']);
    // Act
    const response = await invoke(ingest, event);
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events')).toBe(2);
    const dlq = (await drainQueue(env.sqs, env.queues.ingestDlq)) as Array<Record<string, unknown>>;
    expect(dlq.map((e) => [e.reason, e.sequenceNumber, e.data, e.shardId]).sort()).toEqual([
      ['not_base64', event.Records[3]!.kinesis.sequenceNumber, '@@not-base64@@', 'shardId-000000000000'],
      ['not_json', event.Records[1]!.kinesis.sequenceNumber, Buffer.from('not json').toString('base64'), 'shardId-000000000000'],
    ]);
  });

  it('when the dead-letter queue refuses, commits the batch and keeps the entry in the outbox until a later batch sends it', async () => {
    // Prepare: a DLQ URL that does not exist makes every send fail.
    await drainQueue(env.sqs, env.queues.ingestDlq);
    const event = kinesisEvent([telemetry({ value: 1 }, -3_000), Buffer.from('bad'), telemetry({ fact: 'ph', value: 5 }, -1_000)]);
    const deps = (dlq: string) => ({
      store: pgIngestStore(env.db),
      sqs: env.sqs,
      queues: { events: env.queues.events.url, 'ingest-dlq': dlq },
      ruleSet: breweryRuleSet,
      window: { maxPastSeconds: 3600, maxFutureSeconds: 300 },
      mode: 'merge' as const,
      sendRetry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    // Act
    const refused = await ingestBatch(event.Records.map(fromKinesisEvent), deps(`${env.queues.ingestDlq.url}-missing`));
    const retried = await ingestBatch(event.Records.slice(1).map(fromKinesisEvent), deps(env.queues.ingestDlq.url));
    // Assess: nothing was retried by Lambda, the entry left once, after the commit.
    expect(refused).toMatchObject({ written: 2, deadLettered: 1, publishFailed: 1 });
    expect(retried).toMatchObject({ written: 0, deadLettered: 0, redelivered: 2, published: 1, publishFailed: 0 });
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events')).toBe(2);
    expect(await drainQueue(env.sqs, env.queues.ingestDlq)).toHaveLength(1);
    expect(await count('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL')).toBe(0);
  });

  it('takes any partition key Kinesis accepts, NUL and lone surrogates included', async () => {
    // Prepare
    const ingest = await loadHandler();
    const keys = ['a\u0000b', 'x\ud800y', 'quote" and \\ back', '🛢️ unicode'];
    // Act
    const responses = await Promise.all(
      keys.map((partitionKey, i) =>
        invoke(ingest, kinesisEvent([telemetry({ source: `PK_${i}`, value: i })], { partitionKey, firstSequence: 10n ** 30n + BigInt(i) * 10n ** 6n })),
      ),
    );
    // Assess: written, and the checkpoint keeps each key apart.
    expect(responses).toEqual(keys.map(() => ({ batchItemFailures: [] })));
    expect(await count("SELECT count(*)::int AS n FROM telemetry_events WHERE source LIKE 'PK\\_%'")).toBe(keys.length);
    expect(await count('SELECT count(DISTINCT partition_key)::int AS n FROM ingest_checkpoint')).toBe(keys.length);
  });

  it('dead-letters records whose error text holds characters SQS refuses (U+FFFE, U+FFFF), and writes their neighbours', async () => {
    // Prepare: the local SQS refuses exactly what AWS refuses in a message body.
    const ingest = await loadHandler();
    await drainQueue(env.sqs, env.queues.ingestDlq);
    const event = kinesisEvent([
      telemetry({ fact: 'ph', value: 5.1 }, -3_000),
      Buffer.from('\uFFFE{"v":1}\uFFFF', 'utf8'),
      Buffer.from('{"v":1,"\\uffff":1}'),
      telemetry({ fact: 'ph', value: 5.2 }, -2_000),
    ]);
    // Act
    const response = await invoke(ingest, event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const entries = (await drainQueue(env.sqs, env.queues.ingestDlq)) as Array<{ reason: string; detail: string }>;
    expect(entries.map((e) => e.reason).sort()).toEqual(['not_json', 'schema']);
    expect(entries.some((e) => e.detail.includes('\uffff') || e.detail.includes('\uFFFF'))).toBe(true);
    expect(await count("SELECT sum(sample_count)::int AS n FROM telemetry_events WHERE fact_name = 'ph'")).toBe(2);
  });

  it('dead-letters an invalid record once however often Lambda delivers it', async () => {
    // Prepare
    const ingest = await loadHandler();
    await drainQueue(env.sqs, env.queues.ingestDlq);
    const event = kinesisEvent([Buffer.from('{not json'), telemetry({ fact: 'ph', value: 5 })]);
    // Act: a retry, then a bisected half
    await invoke(ingest, event);
    await invoke(ingest, event);
    await invoke(ingest, { Records: event.Records.slice(0, 1) });
    // Assess
    expect(await drainQueue(env.sqs, env.queues.ingestDlq)).toHaveLength(1);
    expect(await count('SELECT sum(sample_count)::int AS n FROM telemetry_events')).toBe(1);
  });

  it('dead-letters a reading older than the warehouse still aggregates, as set by npm run retention', async () => {
    // Prepare: raw retention cut to one day; a two-day-old reading would recreate a dropped range.
    const ingest = await loadHandler();
    await drainQueue(env.sqs, env.queues.ingestDlq);
    await env.db.query(`SELECT warehouse_set_retention('raw', 1)`);
    try {
      const old = telemetry({ fact: 'ph', value: 4 }, -2 * 86_400_000);
      // Act
      await invoke(ingest, kinesisEvent([old, telemetry({ fact: 'ph', value: 5 })], { firstSequence: 10n ** 31n }));
      // Assess
      const [entry] = (await drainQueue(env.sqs, env.queues.ingestDlq)) as Array<{ reason: string; detail: string }>;
      expect(entry).toMatchObject({ reason: 'ts_out_of_range' });
      expect(entry?.detail).toMatch(/older than the warehouse keeps and aggregates/);
      expect(await count("SELECT count(*)::int AS n FROM telemetry_events WHERE fact_name = 'ph'")).toBe(1);
    } finally {
      await env.db.query(`SELECT warehouse_set_retention('raw', 7)`);
    }
  });

  it('takes plain records and KPL aggregates in one batch: each user record a reading, an invalid one and a corrupt aggregate dead-lettered', async () => {
    // Prepare
    const ingest = await loadHandler();
    await drainQueue(env.sqs, env.queues.ingestDlq);
    const users = [telemetry({ fact: 'ph', value: 5.1 }, -3_000), '{"v":1,', telemetry({ fact: 'ph', value: 5.2 }, -2_000)].map((r) => ({
      partitionKey: 'FBE_01',
      data: Buffer.from(typeof r === 'string' ? r : JSON.stringify(r)),
    }));
    const [packed] = aggregate(users);
    const corrupt = Buffer.from(packed!.data);
    corrupt[10]! ^= 0xff;
    const event = kinesisEvent([packed!.data, telemetry({ fact: 'ph', value: 5.3 }, -1_000), corrupt], { firstSequence: 10n ** 32n });
    // Act
    const response = await invoke(ingest, event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await count("SELECT sum(sample_count)::int AS n FROM telemetry_events WHERE fact_name = 'ph'")).toBe(3);
    const entries = (await drainQueue(env.sqs, env.queues.ingestDlq)) as Array<{ reason: string; sequenceNumber: string; subSequenceNumber?: number }>;
    expect(entries.map((e) => [e.reason, e.sequenceNumber, e.subSequenceNumber]).sort()).toEqual([
      ['bad_aggregate', event.Records[2]!.kinesis.sequenceNumber, undefined],
      ['not_json', event.Records[0]!.kinesis.sequenceNumber, 1],
    ]);
  });

  it('keeps rule state across containers: no re-fire while true, fires again after clearing', async () => {
    // Prepare
    const fermenting = (value: number, offset: number) => [
      telemetry({ source: 'FBE_07', fact: 'state', value: 'fermenting' }, offset),
      telemetry({ source: 'FBE_07', fact: 'temperature_c', value }, offset),
    ];
    let seq = 10n ** 20n;
    const batch = (recs: ReturnType<typeof telemetry>[]) => kinesisEvent(recs, { firstSequence: (seq += 1_000_000n) });
    await drainQueue(env.sqs, env.queues.events);
    // Act: fire, then a new container (fresh module, fresh pool) sees the rule still active.
    await invoke(await loadHandler(), batch(fermenting(26, -5_000)));
    vi.resetModules();
    const fresh = await loadHandler();
    await invoke(fresh, batch(fermenting(27, -4_000)));
    await invoke(fresh, batch(fermenting(18, -3_000)));
    await invoke(fresh, batch(fermenting(25, -2_000)));
    // Assess
    const events = (await drainEvents(env.sqs, env.queues.events)) as Array<{ kind: string; ruleId?: string; source: string }>;
    const firings = events.filter((e) => e.kind === 'rule' && e.ruleId === 'fermentation_over_temperature' && e.source === 'FBE_07');
    expect(firings).toHaveLength(2);
    expect(await count('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL')).toBe(0);
  });

  it.each([
    ['by source, as the simulator keys them', (source: string) => source],
    ['by anything else (a device UUID each)', () => crypto.randomUUID()],
  ])('classifies a batch keyed %s the same: stored, new and late readings, a resend, a new source', async (_, keyOf) => {
    // Prepare: FBE_01 has a stored reading; the batch resends it, adds a newer and a late one, and
    // the readings of a source never seen. Every load of sources is counted.
    const loads: string[][] = [];
    const counted = (store: IngestStore): IngestStore => ({
      ...store,
      transaction: (work) => store.transaction((tx) => work({ ...tx, loadSources: (sources) => (loads.push([...sources]), tx.loadSources(sources)) })),
    });
    const deps = {
      store: counted(pgIngestStore(env.db)),
      sqs: recordingSqs().client,
      queues,
      ruleSet: breweryRuleSet,
      window: { maxPastSeconds: 3_600, maxFutureSeconds: 300 },
      mode: 'merge' as const,
    };
    const stored = telemetry({ value: 1 }, -10_000);
    await ingestBatch([streamRecord(stored, 1, { partitionKey: keyOf('FBE_01') })], deps);
    const batch = [stored, telemetry({ value: 2 }, -5_000), telemetry({ value: 3 }, -20_000), telemetry({ source: 'FBE_NEW', value: 4 }, -5_000)];
    loads.length = 0;

    // Act
    const report = await ingestBatch(
      batch.map((r, i) => streamRecord(r, 10 + i, { partitionKey: keyOf(r.source) })),
      deps,
    );

    // Assess: the same counts either way; a second load only for sources no key named.
    expect(report).toMatchObject({ written: 3, late: 1, duplicates: 1, deadLettered: 0, rows: 2 });
    expect(await count(`SELECT count(*)::int AS n FROM ingest_source WHERE source IN ('FBE_01', 'FBE_NEW')`)).toBe(2);
    expect(await count('SELECT count(*)::int AS n FROM ingest_source')).toBe(2);
    expect(loads).toEqual(keyOf('FBE_01') === 'FBE_01' ? [] : [['FBE_01', 'FBE_NEW']]);
  });
});
