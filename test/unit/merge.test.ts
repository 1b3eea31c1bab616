import { describe, expect, it } from 'vitest';
import { decodeSamples, fingerprint, minuteOf } from '#core/reading';
import { instantMicros } from '#core/record';
import { mergedRows, rawRowsOf, telemetry } from '../helpers/records.ts';

const at = '2026-11-22T20:00:00.000Z';
const later = '2026-11-22T20:00:01.000Z';

describe('batch merge', () => {
  it('keeps the last value by event time and the batch statistics of every sample', () => {
    // Prepare: a spike (95) between two ordinary readings, delivered out of event-time order.
    const rows = mergedRows([telemetry({ ts: later, value: 21 }), telemetry({ ts: at, value: 20 }), telemetry({ ts: '2026-11-22T20:00:00.500Z', value: 95 })]);
    // Assess
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ts: later, value: 21, count: 3, numericCount: 3, min: 20, max: 95 });
    expect(rows[0]?.avg).toBeCloseTo((20 + 21 + 95) / 3, 12);
  });

  it('merges per source, fact and minute: a row never crosses a minute edge', () => {
    // Prepare: a spike 0.1 ms before the minute, the next reading just after it.
    const rows = mergedRows([
      telemetry({ ts: '2026-11-22T20:00:59.9999Z', value: 99 }),
      telemetry({ ts: '2026-11-22T20:01:00.0001Z', value: 20 }),
      telemetry({ ts: '2026-11-22T20:00:10Z', value: 21 }),
    ]);
    // Assess: the spike stays in 20:00, the later reading is 20:01's own.
    expect(rows.map((r) => [r.ts, r.count, r.max])).toEqual([
      ['2026-11-22T20:00:59.9999Z', 2, 99],
      ['2026-11-22T20:01:00.0001Z', 1, 20],
    ]);
  });

  it('merges per source and fact, never across them', () => {
    const rows = mergedRows([
      telemetry({ source: 'FBE_01', fact: 'ph', value: 5.4 }),
      telemetry({ source: 'FBE_02', fact: 'ph', value: 5.5 }),
      telemetry({ source: 'FBE_01', fact: 'state', value: 'mashing' }),
    ]);
    expect(rows.map((r) => `${r.source}/${r.fact}`).sort()).toEqual(['FBE_01/ph', 'FBE_01/state', 'FBE_02/ph']);
  });

  it('reports booleans as 0/1 statistics and strings without statistics', () => {
    const rows = mergedRows([
      telemetry({ fact: 'pump_running', value: true, ts: at }),
      telemetry({ fact: 'pump_running', value: false, ts: later }),
      telemetry({ fact: 'state', value: 'boiling' }),
    ]);
    const pump = rows.find((r) => r.fact === 'pump_running');
    const state = rows.find((r) => r.fact === 'state');
    expect(pump).toMatchObject({ value: false, min: 0, max: 1, avg: 0.5, count: 2, numericCount: 2 });
    expect(state).toMatchObject({ value: 'boiling', min: null, max: null, avg: null, count: 1, numericCount: 0, samples: null });
  });

  it('counts only numbers and booleans into the statistics when a fact mixes in strings', () => {
    const rows = mergedRows([telemetry({ value: 10, ts: at }), telemetry({ value: 'sensor fault', ts: '2026-11-22T20:00:00.500Z' }), telemetry({ value: 20, ts: later })]);
    expect(rows[0]).toMatchObject({ value: 20, count: 3, numericCount: 2, min: 10, max: 20, avg: 15 });
  });

  it('averages values near the float8 limit without overflowing, even of opposite signs', () => {
    const same = mergedRows([telemetry({ value: 1.5e308, ts: at }), telemetry({ value: 1.7e308, ts: later })]);
    const opposite = mergedRows([telemetry({ value: Number.MAX_VALUE, ts: at }), telemetry({ value: -Number.MAX_VALUE, ts: later })]);
    expect(same[0]?.avg).toBeCloseTo(1.6e308, -300);
    expect(opposite[0]?.avg).toBe(0);
  });

  it('keeps every sample identity of a merged row: microseconds into its minute and a fingerprint', () => {
    const records = [telemetry({ ts: '2026-11-22T20:00:05.123456Z', value: 1 }), telemetry({ ts: '2026-11-22T20:00:01Z', value: 2 })];
    const [row] = mergedRows(records);
    const minute = minuteOf(instantMicros(at));
    expect(decodeSamples(row!.samples!)).toEqual([
      { offsetUs: instantMicros(records[1]!.ts) - minute, fp: fingerprint(records[1]!.id, 2) },
      { offsetUs: instantMicros(records[0]!.ts) - minute, fp: fingerprint(records[0]!.id, 1) },
    ]);
  });

  it('splits a busy series-minute into rows of at most the sample limit', () => {
    const rows = mergedRows(
      Array.from({ length: 5 }, (_, i) => telemetry({ ts: `2026-11-22T20:00:0${i}Z`, value: i })),
      2,
    );
    expect(rows.map((r) => r.count)).toEqual([2, 2, 1]);
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(5);
  });

  it('in raw mode keeps every reading as its own row, without a sample list', () => {
    const rows = rawRowsOf([telemetry({ value: 1 }), telemetry({ value: 2, ts: later })]);
    expect(rows.map((r) => [r.value, r.count, r.numericCount, r.min, r.max, r.samples])).toEqual([
      [1, 1, 1, 1, 1, null],
      [2, 1, 1, 2, 2, null],
    ]);
  });
});
