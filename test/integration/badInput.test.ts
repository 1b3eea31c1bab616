import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { DeadLetterEntry } from '#core/ingest/deadLetter';
import type { TelemetryRecord } from '#core/record';
import type { LocalEnvironment } from '../../local/environment.ts';
import { kinesisEvent } from '../../local/events/kinesisEvent.ts';
import { badInputCorpus, edgeData, validEdges, type BadInput } from '../helpers/badInput.ts';
import { drainQueue, lambdaContext, startEnvironment } from '../helpers/pipeline.ts';

let env: LocalEnvironment;
type IngestModule = typeof import('../../functions/ingest/handler.ts');
let ingest: IngestModule;

beforeAll(async () => {
  env = await startEnvironment();
  ingest = await import('../../functions/ingest/handler.ts');
});
afterAll(async () => env?.stop());

// Every batch gets its own sequence range above the last, as a shard's batches do.
let nextSequence = 10n ** 24n;
function batch(payloads: ReadonlyArray<TelemetryRecord | string>): KinesisStreamEvent {
  nextSequence += 1_000_000n;
  return kinesisEvent(payloads, { firstSequence: nextSequence });
}
const invoke = async (event: KinesisStreamEvent) => await ingest.handler(event, lambdaContext());
const deadLetters = async () => (await drainQueue(env.sqs, env.queues.ingestDlq)) as DeadLetterEntry[];

let neighbourCount = 0;
function neighbour(): TelemetryRecord {
  neighbourCount++;
  return { v: 1, id: `neighbour-${neighbourCount}`, source: 'BADIN_NB', fact: `n_${neighbourCount}`, ts: new Date(Date.now() - 2_000).toISOString(), value: neighbourCount };
}
async function storedIds(ids: string[]): Promise<string[]> {
  const { rows } = await env.db.query<{ event_id: string }>(
    `SELECT event_id FROM telemetry_events WHERE event_id IN (SELECT json_array_elements_text($1::json)) ORDER BY event_id`,
    [JSON.stringify(ids)],
  );
  return rows.map((r) => r.event_id);
}

const expectedPayload = (input: BadInput) => (input.data.length > 200_000 ? input.data.slice(0, 200_000) : input.data);

describe('ingest handler fed the bad-input corpus', () => {
  it.each(badInputCorpus(Date.now()).map((c) => [c.kind, c.reason, c] as const))('dead-letters %s as %s and writes both neighbours', async (_kind, reason, input) => {
    // Prepare
    const [before, after] = [neighbour(), neighbour()];
    const event = batch([before, input.data, after]);

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const entries = await deadLetters();
    expect(entries.map((e) => [e.reason, e.sequenceNumber, e.data, e.truncated])).toEqual([
      [reason, event.Records[1]!.kinesis.sequenceNumber, expectedPayload(input), input.data.length > 200_000],
    ]);
    expect(await storedIds([before.id, after.id])).toEqual([before.id, after.id].sort());
  });

  it('dead-letters the whole corpus mixed into one batch with valid neighbours, without failing it', async () => {
    // Prepare: bad and valid records alternate, so every bad record sits between valid ones.
    const corpus = badInputCorpus(Date.now());
    const edges = validEdges(Date.now());
    const payloads: string[] = [];
    for (let i = 0; i < Math.max(corpus.length, edges.length); i++) {
      if (edges[i]) payloads.push(edgeData(edges[i]!));
      if (corpus[i]) payloads.push(corpus[i]!.data);
    }
    const event = batch(payloads);
    const reasonBySequence = new Map(
      event.Records.flatMap((r, i) => {
        const bad = corpus.find((c) => c.data === payloads[i]);
        return bad ? [[r.kinesis.sequenceNumber, bad.reason] as const] : [];
      }),
    );

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const entries = await deadLetters();
    expect(new Map(entries.map((e) => [e.sequenceNumber, e.reason]))).toEqual(reasonBySequence);
    expect(entries).toHaveLength(corpus.length);
    expect(await storedIds(edges.map((e) => e.record.id))).toEqual(edges.map((e) => e.record.id).sort());
  });

  it('dead-letters six oversized records delivered together without failing the batch', async () => {
    // Prepare: each entry keeps 200,000 characters of payload; six of them exceed one SendMessageBatch (1 MiB).
    const oversized = Array.from({ length: 6 }, (_, i) => Buffer.alloc(300_000, 0x41 + i).toString('base64'));
    const event = batch([neighbour(), ...oversized, neighbour()]);

    // Act
    const response = await invoke(event);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const entries = await deadLetters();
    expect(entries.map((e) => [e.reason, e.truncated]).sort()).toEqual(oversized.map(() => ['too_large', true]));
  });

  it('stores strings that reach SQL byte for byte, and float8 edge values exactly', async () => {
    // Prepare
    const edges = validEdges(Date.now());
    await env.db.exec("DELETE FROM telemetry_events WHERE source = 'BADIN_EDGE'");
    await env.db.exec("DELETE FROM ingest_checkpoint WHERE partition_key IN ('BADIN_EDGE', 'unknown')");

    // Act
    const response = await invoke(batch(edges.map(edgeData)));

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const { rows } = await env.db.query<{ fact_name: string; event_id: string; value_str: string | null; value_float: number | null; value_bool: boolean | null }>(
      "SELECT fact_name, event_id, value_str, value_float, value_bool FROM telemetry_events WHERE source = 'BADIN_EDGE' ORDER BY fact_name",
    );
    const stored = rows.map((r) => ({ fact: r.fact_name, id: r.event_id, value: r.value_str ?? r.value_bool ?? r.value_float }));
    const sent = edges.map((e) => ({ fact: e.record.fact, id: e.record.id, value: e.record.value }));
    expect(stored).toEqual(sent);
    // toEqual compares strings by UTF-16 units; compare the UTF-8 bytes too, as the database holds them.
    for (const [i, s] of stored.entries()) {
      expect(Buffer.from(String(s.id)).equals(Buffer.from(String(sent[i]!.id)))).toBe(true);
      expect(Buffer.from(String(s.value)).equals(Buffer.from(String(sent[i]!.value)))).toBe(true);
    }
  });

  it('keeps a batch alive when huge valid numbers in consecutive batches overflow the anomaly detector', async () => {
    // Prepare: finite values whose squared residual overflows float8 (1e200^2 = Infinity).
    const reading = (value: number, ageMs: number): TelemetryRecord => ({
      v: 1,
      id: `huge-${value}-${ageMs}`,
      source: 'BADIN_HUGE',
      fact: 'pressure_bar',
      ts: new Date(Date.now() - ageMs).toISOString(),
      value,
    });

    // Act
    const first = await invoke(batch([reading(1e200, 3_000)]));
    const second = await invoke(batch([reading(-1e200, 2_000)]));

    // Assess
    expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
    const { rows } = await env.db.query<{ value_float: number }>("SELECT value_float FROM telemetry_events WHERE source = 'BADIN_HUGE' ORDER BY ts");
    expect(rows.map((r) => r.value_float)).toEqual([1e200, -1e200]);
  });
});
