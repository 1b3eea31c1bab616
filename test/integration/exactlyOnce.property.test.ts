import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgIngestStore } from '#core/db/pgIngestStore';
import type { SqlDatabase } from '#core/db/session';
import { ingestBatch, type IngestReport } from '#core/ingest/ingestBatch';
import type { IngestStore } from '#core/ingest/store';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { numericOf } from '#core/record';
import { seriesKey } from '#core/reading';
import type { FactValue, TelemetryRecord } from '#core/record';
import { loadRuleSet } from '#core/rules/ruleSet';
import { ENGINES, type Engine } from '../helpers/engines.ts';
import { MemoryIngestStore, recordingSqs } from '../helpers/memoryIngestStore.ts';
import { streamRecord } from '../helpers/records.ts';

/**
 * Exactly once per reading, whatever the producer and Lambda do: readings resent (also with the
 * same instant written in another offset), reordered, arriving late, cut into random batches,
 * batches redelivered from any point, and two overlapping windows processed at the same time.
 * Afterwards every series holds each distinct reading exactly once, with statistics equal to a
 * recomputation over the distinct readings, and no distinct reading was called a duplicate.
 */

const NOW = Math.floor(Date.now() / 60_000) * 60_000;
const START = NOW - 10 * 60_000;
const ruleSet = loadRuleSet({ version: 'p.1', rules: [{ id: 'never', description: 'never fires', when: [{ fact: 't', op: '>', value: 1e300 }] }] });
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };
const NO_WAIT = { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 5 };

interface Distinct {
  source: string;
  fact: string;
  /** Microseconds after START: a 2.5-minute span, so rows meet minute edges. */
  us: number;
  value: FactValue;
}

const distinctReadings = fc.uniqueArray(
  fc.record({
    source: fc.constantFrom('P_01', 'P_02'),
    fact: fc.constantFrom('t', 'b', 's'),
    us: fc.integer({ min: 0, max: 150_000_000 }),
    value: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.boolean(), fc.constantFrom('idle', 'boiling')),
  }),
  { selector: (r) => `${r.source}/${r.fact}/${r.us}`, minLength: 1, maxLength: 40 },
);

/** The same instant as a producer may write it: UTC, or shifted into a +HH:MM offset. */
function tsText(us: number, offsetMinutes: number): string {
  const ms = START + Math.floor(us / 1000);
  const micro = String(us % 1000).padStart(3, '0');
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  if (offsetMinutes === 0) return `${local}${micro}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${micro}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const scenario = distinctReadings.chain((readings) =>
  fc.record({
    readings: fc.constant(readings),
    // per reading: extra copies (producer resends), their offsets, and how far each copy is moved
    copies: fc.array(
      fc.record({
        extra: fc.integer({ min: 0, max: 2 }),
        offset: fc.constantFrom(0, 0, 330, -600, 1439),
        jitter: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 3, maxLength: 3 }),
      }),
      {
        minLength: readings.length,
        maxLength: readings.length,
      },
    ),
    // late readings: some move far back in the stream (a device catching up)
    late: fc.array(fc.boolean(), { minLength: readings.length, maxLength: readings.length }),
    cuts: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 30 }),
    // Producers key by source (the simulator), or by something else: then the sources are known only once decoded.
    keyBySource: fc.boolean(),
    redeliveries: fc.array(fc.record({ kind: fc.constantFrom('none', 'none', 'again', 'suffix', 'concurrent'), from: fc.nat() }), { minLength: 30, maxLength: 30 }),
  }),
);

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The stream as the producer left it (sequence order), and the deliveries Lambda makes of it. */
function deliveries(s: Scenario): { stream: StreamRecord[]; steps: StreamRecord[][][] } {
  const placed: Array<{ key: number; record: TelemetryRecord }> = [];
  s.readings.forEach((r, i) => {
    const c = s.copies[i]!;
    for (let copy = 0; copy <= c.extra; copy++) {
      const base = s.late[i] ? i + 40 : i;
      placed.push({
        key: base + (c.jitter[copy] ?? 0) + copy * 3,
        record: { v: 1, id: `r${i}`, source: r.source, fact: r.fact, ts: tsText(r.us, copy === 0 ? 0 : c.offset), value: r.value },
      });
    }
  });
  placed.sort((a, b) => a.key - b.key);
  const stream = placed.map((p, i) => streamRecord(p.record, 10_000 + i, { partitionKey: s.keyBySource ? p.record.source : `k${i % 3}` }));
  const batches: StreamRecord[][] = [];
  for (let at = 0, k = 0; at < stream.length; k++) {
    const size = s.cuts[k % s.cuts.length]!;
    batches.push(stream.slice(at, at + size));
    at += size;
  }
  // Each step is processed as a unit; a step of two batches runs them at the same time.
  const steps: StreamRecord[][][] = [];
  batches.forEach((batch, i) => {
    const r = s.redeliveries[i % s.redeliveries.length]!;
    const from = r.from % batch.length;
    const previous = batches[i - 1] ?? [];
    if (r.kind === 'concurrent') steps.push([[...previous.slice(from % Math.max(previous.length, 1)), ...batch], batch]);
    else steps.push([batch]);
    if (r.kind === 'again') steps.push([batch]);
    if (r.kind === 'suffix') steps.push([[...batch.slice(from), ...(batches[i + 1] ?? []).slice(0, 1)]]);
  });
  return { stream, steps };
}

interface SeriesTotals {
  samples: number;
  numeric: number;
  min: number | null;
  max: number | null;
  sum: number;
}

function expected(readings: readonly Distinct[]): Map<string, SeriesTotals> {
  const out = new Map<string, SeriesTotals>();
  for (const r of readings) {
    const key = seriesKey(r.source, r.fact);
    const t = out.get(key) ?? { samples: 0, numeric: 0, min: null, max: null, sum: 0 };
    out.set(key, t);
    t.samples++;
    // As the record travels: JSON has no -0.
    const n = numericOf(JSON.parse(JSON.stringify(r.value)) as FactValue);
    if (n === null) continue;
    t.numeric++;
    t.sum += n;
    t.min = t.min === null ? n : Math.min(t.min, n);
    t.max = t.max === null ? n : Math.max(t.max, n);
  }
  return out;
}

async function storedTotals(db: SqlDatabase): Promise<Map<string, SeriesTotals>> {
  const { rows } = await db.query<{ source: string; fact_name: string; samples: number; numeric: number; lo: number | null; hi: number | null; sum: number | null; keys: number }>(
    `SELECT source, fact_name, sum(sample_count)::int AS samples, sum(numeric_count)::int AS numeric,
            min(value_min) AS lo, max(value_max) AS hi, sum(value_avg * numeric_count) AS sum,
            (count(*) - count(DISTINCT ts))::int AS keys
     FROM telemetry_events GROUP BY source, fact_name`,
  );
  expect(rows.every((r) => r.keys === 0)).toBe(true);
  return new Map(rows.map((r) => [seriesKey(r.source, r.fact_name), { samples: r.samples, numeric: r.numeric, min: r.lo, max: r.hi, sum: r.sum ?? 0 }]));
}

function memoryTotals(store: MemoryIngestStore): Map<string, SeriesTotals> {
  const out = new Map<string, SeriesTotals>();
  for (const r of store.tables.rows) {
    const key = seriesKey(r.source, r.fact);
    const t = out.get(key) ?? { samples: 0, numeric: 0, min: null, max: null, sum: 0 };
    out.set(key, t);
    t.samples += r.count;
    t.numeric += r.numericCount;
    t.sum += (r.avg ?? 0) * r.numericCount;
    if (r.min !== null) t.min = t.min === null ? r.min : Math.min(t.min, r.min);
    if (r.max !== null) t.max = t.max === null ? r.max : Math.max(t.max, r.max);
  }
  return out;
}

/** Raw mode also in COPY chunks of two readings: batches cross chunk edges, with resends and late readings on either side. */
const MODES = [
  { name: 'merge', mode: 'merge', rowChunk: undefined },
  { name: 'raw', mode: 'raw', rowChunk: undefined },
  { name: 'raw in chunks of 2', mode: 'raw', rowChunk: 2 },
] as const;
type Mode = (typeof MODES)[number];

async function check(s: Scenario, store: IngestStore, totals: () => Promise<Map<string, SeriesTotals>>, { mode, rowChunk }: Mode): Promise<void> {
  const { steps } = deliveries(s);
  const sqs = recordingSqs();
  const ingest = (batch: StreamRecord[]) =>
    ingestBatch(batch, {
      store,
      sqs: sqs.client,
      queues,
      ruleSet,
      window: { maxPastSeconds: 3_600, maxFutureSeconds: 300 },
      mode,
      ...(rowChunk ? { rowChunk } : {}),
      now: () => NOW,
      dbRetry: NO_WAIT,
      sendRetry: NO_WAIT,
    });
  const reports: IngestReport[] = [];
  for (const step of steps) reports.push(...(await Promise.all(step.map(ingest))));

  const sum = (k: keyof IngestReport) => reports.reduce((a, r) => a + (r[k] as number), 0);
  const delivered = sum('records');
  expect(sum('deadLettered')).toBe(0);
  expect(sum('written')).toBe(s.readings.length);
  expect(sum('written') + sum('duplicates') + sum('redelivered')).toBe(delivered);

  const want = expected(s.readings);
  const got = await totals();
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [key, w] of want) {
    const g = got.get(key)!;
    expect({ key, samples: g.samples, numeric: g.numeric, min: g.min, max: g.max }).toEqual({ key, samples: w.samples, numeric: w.numeric, min: w.min, max: w.max });
    expect(Math.abs(g.sum - w.sum)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w.sum)));
  }
}

describe.each(MODES)('exactly once per reading in $name mode, in memory', (mode) => {
  it('holds for any producer behaviour and any delivery', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const store = new MemoryIngestStore();
        store.rawRetentionDays = null;
        await check(s, store, async () => memoryTotals(store), mode);
      }),
      { numRuns: 150 },
    );
  });
});

describe.each(ENGINES)('exactly once per reading on $name', ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());

  it.each(MODES)('holds in $name mode for any producer behaviour and any delivery, concurrent windows included', async (mode) => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await engine.db.exec('TRUNCATE telemetry_events, ingest_checkpoint, ingest_source, rule_state, outbox');
        await check(s, pgIngestStore(engine.db), () => storedTotals(engine.db), mode);
      }),
      { numRuns: 25 },
    );
  });
});
