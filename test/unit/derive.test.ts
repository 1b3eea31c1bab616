import { describe, expect, it } from 'vitest';
import { derive, emptySourceState, type SourceState } from '#core/derive';
import { loadRuleSet } from '#core/rules/ruleSet';
import { mergedRows, rawRowsOf, telemetry } from '../helpers/records.ts';

const ruleSet = loadRuleSet({
  version: 'test.1',
  rules: [
    {
      id: 'hot_ferment',
      description: 'too warm',
      when: [
        { fact: 'state', op: '==', value: 'fermenting' },
        { fact: 'temperature_c', op: '>', value: 24 },
      ],
    },
  ],
});
const t = (s: number) => new Date(Date.parse('2026-11-22T20:00:00Z') + s * 1000).toISOString();
const batch = (...items: Array<[fact: string, value: number | string, second: number]>) => mergedRows(items.map(([fact, value, s]) => telemetry({ fact, value, ts: t(s) })));

describe('derivation: rules and anomalies over merged batches', () => {
  it('fires a rule once when its premises become true, with facts from earlier batches', () => {
    // Prepare: state arrives in one batch, temperature in the next.
    const states = new Map<string, SourceState>();
    const first = derive(batch(['state', 'fermenting', 1], ['temperature_c', 20, 1]), states, ruleSet);
    // Act
    const second = derive(batch(['temperature_c', 26, 2]), states, ruleSet);
    const third = derive(batch(['temperature_c', 27, 3]), states, ruleSet);
    // Assess
    expect(first.events).toHaveLength(0);
    expect(second.events).toMatchObject([{ kind: 'rule', ruleId: 'hot_ferment', source: 'FBE_01', ts: t(2), rulesVersion: 'test.1' }]);
    expect(second.changes.rules).toEqual([{ source: 'FBE_01', ruleId: 'hot_ferment', active: true, ts: t(2) }]);
    expect(third.events).toHaveLength(0);
  });

  it('reports one state change per series, the newest, however many rows a batch holds', () => {
    const rows = rawRowsOf([1, 2, 3].map((s) => telemetry({ fact: 'ph', value: 5 + s / 10, ts: t(s) })));
    const { changes } = derive(rows, new Map(), ruleSet);
    expect(changes.facts).toEqual([{ source: 'FBE_01', fact: 'ph', value: 5.3, ts: t(3) }]);
    expect(changes.ema).toHaveLength(1);
    expect(changes.ema[0]?.ts).toBe(t(3));
  });

  it('does not move the fact base back for an out-of-order row', () => {
    const states = new Map([['FBE_01', emptySourceState()]]);
    derive(batch(['state', 'fermenting', 10], ['temperature_c', 30, 10]), states, ruleSet);
    const late = derive(batch(['temperature_c', 10, 5]), states, ruleSet);
    expect(late.changes.facts).toHaveLength(0);
    expect(states.get('FBE_01')?.facts.get('temperature_c')?.value).toBe(30);
  });

  it('gives an event the same id when the same rows are derived again', () => {
    const rows = batch(['state', 'fermenting', 1], ['temperature_c', 30, 1]);
    const a = derive(rows, new Map(), ruleSet).events;
    const b = derive(rows, new Map(), ruleSet).events;
    expect(a.map((e) => e.id)).toEqual(b.map((e) => e.id));
    expect(a).toHaveLength(1);
  });

  it('leaves facts the rule set excludes (cumulative counters) out of anomaly detection', () => {
    const counters = loadRuleSet({ ...ruleSet, anomalyExclude: ['packaged_total'] });
    const states = new Map<string, SourceState>();
    for (let i = 0; i < 40; i++) derive(batch(['packaged_total', 1_000 + i, i]), states, counters);
    const reset = derive(batch(['packaged_total', 0, 100]), states, counters);
    const judged = derive(batch(['packaged_total', 0, 101]), new Map(), ruleSet);
    expect(reset.events).toHaveLength(0);
    expect(reset.changes.ema).toHaveLength(0);
    expect(judged.changes.ema).toHaveLength(1);
  });

  it('flags a spike that last-write-wins merged away, using the batch maximum', () => {
    // Prepare: 40 calm batches warm the detector up.
    const states = new Map<string, SourceState>();
    for (let i = 0; i < 40; i++) derive(batch(['pressure_bar', 1.2 + (i % 3) * 0.01, i]), states, ruleSet);
    // Act: one batch whose last value is calm but which held a spike.
    const spiky = derive(batch(['pressure_bar', 4.8, 100], ['pressure_bar', 1.21, 101]), states, ruleSet);
    // Assess
    expect(spiky.events).toMatchObject([{ kind: 'anomaly', fact: 'pressure_bar', value: 4.8 }]);
  });
});
