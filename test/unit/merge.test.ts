import { describe, expect, it } from 'vitest';
import { compareSequence, mergeBatch, rawRows } from '#core/merge';
import { sequenced, telemetry } from '../helpers/records.ts';

const at = '2026-11-22T20:00:00.000Z';
const later = '2026-11-22T20:00:01.000Z';

describe('batch merge', () => {
  it('keeps the last value by event time and the batch statistics of every sample', () => {
    // Prepare: a spike (95) between two ordinary readings, delivered out of event-time order.
    const rows = mergeBatch([
      sequenced(telemetry({ ts: later, value: 21 }), 3),
      sequenced(telemetry({ ts: at, value: 20 }), 1),
      sequenced(telemetry({ ts: '2026-11-22T20:00:00.500Z', value: 95 }), 2),
    ]);
    // Assess
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ts: later, value: 21, count: 3, min: 20, max: 95 });
    expect(rows[0]?.avg).toBeCloseTo((20 + 21 + 95) / 3, 12);
  });

  it('breaks event-time ties by the higher sequence number, compared numerically', () => {
    const rows = mergeBatch([
      sequenced(telemetry({ ts: at, value: 1 }), '100'),
      sequenced(telemetry({ ts: at, value: 2 }), '99'),
    ]);
    expect(rows[0]?.value).toBe(1);
    expect(compareSequence('99', '100')).toBeLessThan(0);
  });

  it('merges per source and fact, never across them', () => {
    const rows = mergeBatch([
      sequenced(telemetry({ source: 'FBE_01', fact: 'ph', value: 5.4 }), 1),
      sequenced(telemetry({ source: 'FBE_02', fact: 'ph', value: 5.5 }), 2),
      sequenced(telemetry({ source: 'FBE_01', fact: 'state', value: 'mashing' }), 3),
    ]);
    expect(rows.map((r) => `${r.source}/${r.fact}`).sort()).toEqual(['FBE_01/ph', 'FBE_01/state', 'FBE_02/ph']);
  });

  it('reports booleans as 0/1 statistics and strings without statistics', () => {
    const rows = mergeBatch([
      sequenced(telemetry({ fact: 'pump_running', value: true, ts: at }), 1),
      sequenced(telemetry({ fact: 'pump_running', value: false, ts: later }), 2),
      sequenced(telemetry({ fact: 'state', value: 'boiling' }), 3),
    ]);
    const pump = rows.find((r) => r.fact === 'pump_running');
    const state = rows.find((r) => r.fact === 'state');
    expect(pump).toMatchObject({ value: false, min: 0, max: 1, avg: 0.5, count: 2 });
    expect(state).toMatchObject({ value: 'boiling', min: null, max: null, avg: null, count: 1 });
  });

  it('averages values near the float8 limit without overflowing', () => {
    const rows = mergeBatch([sequenced(telemetry({ value: 1.5e308, ts: at }), 1), sequenced(telemetry({ value: 1.7e308, ts: later }), 2)]);
    expect(rows[0]?.avg).toBeCloseTo(1.6e308, -300);
  });

  it('in raw mode keeps every record as its own row', () => {
    const rows = rawRows([sequenced(telemetry({ value: 1 }), 1), sequenced(telemetry({ value: 2, ts: later }), 2)]);
    expect(rows.map((r) => [r.value, r.count, r.min, r.max])).toEqual([
      [1, 1, 1, 1],
      [2, 1, 2, 2],
    ]);
  });
});
