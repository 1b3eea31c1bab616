import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { DeadLetterEntrySchema } from '#core/ingest/deadLetter';
import { ingestBatch } from '#core/ingest/ingestBatch';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { loadRuleSet } from '#core/rules/ruleSet';
import type { TelemetryRecord } from '#core/record';
import { ENGINES, type Engine } from '../helpers/engines.ts';
import { recordingSqs } from '../helpers/memoryIngestStore.ts';
import { BASE_MS, streamRecord, telemetry } from '../helpers/records.ts';

/**
 * Ingest trusts each series' newest reading in ingest_source to know which readings may already be
 * stored. When that state is behind the rows (restored from an older copy, or rows written around
 * ingest), raw mode's COPY meets a stored reading in the unique index: the batch is rerun looking up
 * every reading, so the stored one counts as a duplicate (or a conflict) and the rest are written.
 * Merge mode's rows hold many readings under one key, so there the state is the only ledger
 * (docs/guarantees.md).
 */

const ruleSet = loadRuleSet({ version: 's.1', rules: [{ id: 'never', description: 'never fires', when: [{ fact: 'temperature_c', op: '>', value: 1e300 }] }] });
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };
const NO_WAIT = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

describe.each(ENGINES)('raw ingest when the source state is behind the stored rows, on $name', ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());
  beforeEach(async () => {
    await engine.db.exec('TRUNCATE telemetry_events, ingest_checkpoint, ingest_source, rule_state, outbox');
  });

  function setup(rowChunk?: number) {
    const sqs = recordingSqs();
    let seq = 5_000;
    const put = (r: TelemetryRecord) => streamRecord(r, ++seq);
    const ingest = (batch: readonly StreamRecord[]) =>
      ingestBatch(batch, {
        store: pgIngestStore(engine.db),
        sqs: sqs.client,
        queues,
        ruleSet,
        window: { maxPastSeconds: 3_600, maxFutureSeconds: 300 },
        mode: 'raw',
        ...(rowChunk ? { rowChunk } : {}),
        now: () => BASE_MS + 60_000,
        dbRetry: NO_WAIT,
        sendRetry: NO_WAIT,
      });
    const samples = async () => (await engine.db.query<{ n: number }>('SELECT coalesce(sum(sample_count), 0)::int AS n FROM telemetry_events')).rows[0]!.n;
    const deadLetters = () => (sqs.sent.get(queues['ingest-dlq']) ?? []).map((b) => DeadLetterEntrySchema.parse(JSON.parse(b)));
    /** Stores a reading r1, then r2 after it, then puts the source state back to what it was after r1 alone; returns r2. */
    const storeBehindState = async (): Promise<TelemetryRecord> => {
      const r2 = telemetry({ value: 2 }, -2_000);
      await ingest([put(telemetry({ value: 1 }, -3_000))]);
      const { rows } = await engine.db.query<{ facts: unknown }>(`SELECT facts FROM ingest_source WHERE source = 'FBE_01'`);
      await ingest([put(r2)]);
      await engine.db.query(`UPDATE ingest_source SET facts = $1 WHERE source = 'FBE_01'`, [JSON.stringify(rows[0]!.facts)]);
      return r2;
    };
    return { put, ingest, samples, deadLetters, storeBehindState };
  }

  it('counts a resend of a stored reading the state does not know of as a duplicate', async () => {
    // Prepare
    const { put, ingest, samples, storeBehindState } = setup();
    const r2 = await storeBehindState();

    // Act: the producer resends r2 beside a new reading.
    const report = await ingest([put(r2), put(telemetry({ value: 3 }, -1_000))]);

    // Assess
    expect(report).toMatchObject({ records: 2, written: 1, duplicates: 1, deadLettered: 0 });
    expect(await samples()).toBe(3);
  });

  it('counts the resend as a duplicate when the COPY streams chunks past it, a reading a chunk', async () => {
    // Prepare: the server refuses the first chunk while the function still makes the others.
    const { put, ingest, samples, storeBehindState } = setup(1);
    const r2 = await storeBehindState();
    const newer = Array.from({ length: 10 }, (_, i) => telemetry({ value: 10 + i }, -1_000 + i));

    // Act
    const report = await ingest([put(r2), ...newer.map(put)]);

    // Assess
    expect(report).toMatchObject({ records: 11, written: 10, duplicates: 1, deadLettered: 0 });
    expect(await samples()).toBe(12);
  });

  it('counts the resend as a duplicate when it is in the COPY after the lookup, behind chunks already streamed', async () => {
    // Prepare: a new reading streams first; a late one needs the lookup; the resend goes in the second COPY.
    const { put, ingest, samples, storeBehindState } = setup(1);
    const r2 = await storeBehindState();

    // Act
    const report = await ingest([put(telemetry({ value: 3 }, -1_000)), put(telemetry({ value: 0 }, -5_000)), put(r2)]);

    // Assess
    expect(report).toMatchObject({ records: 3, written: 2, duplicates: 1, deadLettered: 0 });
    expect(await samples()).toBe(4);
  });

  it('dead-letters a reading whose identity is stored with another value the state does not know of', async () => {
    // Prepare
    const { put, ingest, samples, deadLetters, storeBehindState } = setup();
    const r2 = await storeBehindState();

    // Act
    const report = await ingest([put({ ...r2, value: 20 }), put(telemetry({ value: 3 }, -1_000))]);

    // Assess
    expect(report).toMatchObject({ records: 2, written: 1, duplicates: 0, deadLettered: 1, conflicts: 1 });
    expect(await samples()).toBe(3);
    expect(deadLetters().map((d) => d.reason)).toEqual(['identity_conflict']);
  });
});
