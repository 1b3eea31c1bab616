import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TELEMETRY_COPY, telemetryCopyData } from '#core/db/telemetryCopy';
import type { MergedRow } from '#core/merge';
import { encodeSamples } from '#core/reading';
import { instantMicros } from '#core/record';
import { ENGINES, type Engine } from '../helpers/engines.ts';

const row = (over: Partial<MergedRow>): MergedRow => {
  const ts = over.ts ?? '2026-11-22T20:00:00.123456Z';
  return { source: 'FBE_01', fact: 'f', ts, tsUs: instantMicros(ts), eventId: 'e', value: 1, count: 1, numericCount: 1, min: 1, max: 1, avg: 1, samples: null, ...over };
};

describe.each(ENGINES)('binary COPY of telemetry rows on $name', ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());

  it('stores every column exactly: edge numbers, any text, booleans, NULLs and sample bytes', async () => {
    // Prepare
    const rows = [
      row({
        fact: 'max',
        value: Number.MAX_VALUE,
        min: -Number.MAX_VALUE,
        max: Number.MAX_VALUE,
        avg: 0,
        count: 2,
        numericCount: 2,
        samples: encodeSamples([0, 59_999_999], [0, 0xffffffff]),
      }),
      row({ fact: 'tiny', value: 5e-324, min: 5e-324, max: 5e-324, avg: 5e-324 }),
      row({ fact: 'text', value: 'tab\there, new\nline, back\\slash, quote\' "q" 🛢️ \uFFFF', min: null, max: null, avg: null, numericCount: 0, eventId: 'id\twith\ttabs' }),
      row({ fact: 'bool', value: false, min: 0, max: 0, avg: 0 }),
      row({ fact: 'early', ts: '2000-01-01T00:00:00.000001Z', value: 1 }),
      row({ fact: 'late', ts: '2099-12-31T23:59:59.999999Z', value: 1 }),
    ];
    await engine.db.exec('TRUNCATE telemetry_events');

    // Act
    await engine.db.transaction((tx) => tx.copyFrom(TELEMETRY_COPY, telemetryCopyData(rows)));

    // Assess
    const { rows: stored } = await engine.db.query<Record<string, unknown>>(
      `SELECT fact_name, (extract(epoch FROM ts) * 1000000)::int8 AS us, value_float, value_bool, value_str, sample_count, numeric_count,
              value_min, value_max, value_avg, event_id, encode(samples, 'hex') AS samples
       FROM telemetry_events ORDER BY fact_name`,
    );
    const byFact = new Map(stored.map((r) => [r.fact_name, r]));
    for (const r of rows) {
      const s = byFact.get(r.fact)!;
      expect(s.us).toBe(r.tsUs);
      expect(s.value_float).toBe(typeof r.value === 'string' ? null : Number(r.value));
      expect(s.value_bool).toBe(typeof r.value === 'boolean' ? r.value : null);
      expect(s.value_str).toBe(typeof r.value === 'string' ? r.value : null);
      expect([s.sample_count, s.numeric_count, s.value_min, s.value_max, s.value_avg, s.event_id]).toEqual([r.count, r.numericCount, r.min, r.max, r.avg, r.eventId]);
      expect(s.samples).toBe(r.samples === null ? null : r.samples.toString('hex'));
    }
  });
});
