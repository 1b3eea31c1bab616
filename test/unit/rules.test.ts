import { describe, expect, it } from 'vitest';
import type { FactValue } from '#core/record';
import { breweryRuleSet } from '#core/rules/brewery';
import { evaluateEdges, premiseHolds } from '#core/rules/engine';
import { loadRuleSet, RuleSetError, type Premise, type RuleSet } from '#core/rules/ruleSet';

const facts = (entries: Record<string, FactValue>): ReadonlyMap<string, FactValue> => new Map(Object.entries(entries));

const overTemp: RuleSet = loadRuleSet({
  version: 'test.1',
  rules: [
    {
      id: 'fermentation_over_temperature',
      description: 'too warm while fermenting',
      when: [
        { fact: 'state', op: '==', value: 'fermenting' },
        { fact: 'temperature_c', op: '>', value: 24 },
      ],
    },
  ],
});

function loadError(json: unknown): RuleSetError {
  try {
    loadRuleSet(json);
  } catch (e) {
    if (e instanceof RuleSetError) return e;
    throw e;
  }
  throw new Error('expected the rule set to be rejected');
}

describe('premise operators', () => {
  const cases: Array<[Premise['op'], number, boolean, boolean, boolean]> = [
    // op, threshold, holds for 10 < t, holds for 10 == t, holds for 10 > t
    ['==', 10, false, true, false],
    ['!=', 10, true, false, true],
    ['>', 10, false, false, true],
    ['>=', 10, false, true, true],
    ['<', 10, true, false, false],
    ['<=', 10, true, true, false],
  ];
  it.each(cases)('%s compares numbers', (op, threshold, below, equal, above) => {
    // Prepare
    const premise: Premise = { fact: 'pressure_bar', op, value: threshold };

    // Act
    const results = [9.5, 10, 10.5].map((v) => premiseHolds(premise, facts({ pressure_bar: v })));

    // Assess
    expect(results).toEqual([below, equal, above]);
  });

  it('== and != compare strings and booleans exactly', () => {
    expect(premiseHolds({ fact: 'state', op: '==', value: 'mashing' }, facts({ state: 'mashing' }))).toBe(true);
    expect(premiseHolds({ fact: 'state', op: '==', value: 'mashing' }, facts({ state: 'Mashing' }))).toBe(false);
    expect(premiseHolds({ fact: 'state', op: '!=', value: 'idle' }, facts({ state: 'boiling' }))).toBe(true);
    expect(premiseHolds({ fact: 'pump_running', op: '==', value: true }, facts({ pump_running: true }))).toBe(true);
    expect(premiseHolds({ fact: 'pump_running', op: '!=', value: true }, facts({ pump_running: false }))).toBe(true);
  });

  it('treats a missing fact as false for every operator, != included', () => {
    const empty = facts({ temperature_c: 20 });
    expect(premiseHolds({ fact: 'pressure_bar', op: '<', value: 1 }, empty)).toBe(false);
    expect(premiseHolds({ fact: 'pressure_bar', op: '!=', value: 1 }, empty)).toBe(false);
  });

  it('treats a type mismatch as false without throwing', () => {
    // a string where a number is expected, a number where a boolean is expected, "1" vs 1
    expect(premiseHolds({ fact: 'temperature_c', op: '>', value: 24 }, facts({ temperature_c: 'hot' }))).toBe(false);
    expect(premiseHolds({ fact: 'temperature_c', op: '!=', value: 24 }, facts({ temperature_c: 'hot' }))).toBe(false);
    expect(premiseHolds({ fact: 'pump_running', op: '==', value: true }, facts({ pump_running: 1 }))).toBe(false);
    expect(premiseHolds({ fact: 'level_pct', op: '==', value: 1 }, facts({ level_pct: '1' }))).toBe(false);
  });
});

describe('evaluateEdges', () => {
  const hot = facts({ state: 'fermenting', temperature_c: 25.1 });
  const cool = facts({ state: 'fermenting', temperature_c: 19.8 });

  it('fires a rule once when all its premises become true', () => {
    // Act
    const edges = evaluateEdges(overTemp, hot, new Set());

    // Assess
    expect(edges.fired).toEqual(['fermentation_over_temperature']);
    expect([...edges.active]).toEqual(['fermentation_over_temperature']);
    expect(edges.cleared).toEqual([]);
  });

  it('does not fire when only some premises hold', () => {
    const edges = evaluateEdges(overTemp, facts({ state: 'boiling', temperature_c: 99 }), new Set());
    expect(edges.fired).toEqual([]);
    expect(edges.active.size).toBe(0);
  });

  it('does not fire again while the rule stays true', () => {
    // Prepare
    const first = evaluateEdges(overTemp, hot, new Set());

    // Act
    const second = evaluateEdges(overTemp, facts({ state: 'fermenting', temperature_c: 26 }), first.active);

    // Assess
    expect(second.fired).toEqual([]);
    expect(second.active.has('fermentation_over_temperature')).toBe(true);
  });

  it('clears when the premises stop holding and fires again after that', () => {
    // Prepare
    const first = evaluateEdges(overTemp, hot, new Set());

    // Act
    const clear = evaluateEdges(overTemp, cool, first.active);
    const again = evaluateEdges(overTemp, hot, clear.active);

    // Assess
    expect(clear.cleared).toEqual(['fermentation_over_temperature']);
    expect(clear.active.size).toBe(0);
    expect(again.fired).toEqual(['fermentation_over_temperature']);
  });

  it('clears an active rule whose fact went missing', () => {
    const edges = evaluateEdges(overTemp, facts({ state: 'fermenting' }), new Set(['fermentation_over_temperature']));
    expect(edges.cleared).toEqual(['fermentation_over_temperature']);
  });

  it('reports a previously active rule that is no longer in the rule set as cleared', () => {
    const edges = evaluateEdges(overTemp, hot, new Set(['retired_rule', 'fermentation_over_temperature']));
    expect(edges.cleared).toEqual(['retired_rule']);
    expect(edges.fired).toEqual([]);
  });

  it('does not mutate the previous state it is given', () => {
    const previous = new Set<string>();
    evaluateEdges(overTemp, hot, previous);
    expect(previous.size).toBe(0);
  });
});

describe('loadRuleSet', () => {
  it('rejects an unknown operator with the path of the premise', () => {
    // Prepare
    const json = { version: '1', rules: [{ id: 'a', description: 'x', when: [{ fact: 'ph', op: '=>', value: 5 }] }] };

    // Act
    const error = loadError(json);

    // Assess
    expect(error.issues.map((i) => i.path)).toEqual(['rules.0.when.0.op']);
    expect(error.message).toContain('rules.0.when.0.op');
  });

  it('rejects an ordering operator on a non-number value', () => {
    const error = loadError({ version: '1', rules: [{ id: 'a', description: 'x', when: [{ fact: 'state', op: '>', value: 'idle' }] }] });
    expect(error.issues).toEqual([{ path: 'rules.0.when.0.value', message: 'operator > needs a number' }]);
  });

  it('rejects duplicate rule ids, a rule without premises, unknown keys and a missing version', () => {
    const error = loadError({
      rules: [
        { id: 'a', description: 'x', when: [{ fact: 'ph', op: '<', value: 5 }] },
        { id: 'a', description: 'y', when: [] },
        { id: 'b', description: 'z', wehn: [] },
      ],
    });
    expect(error.issues.map((i) => i.path).sort()).toEqual(['rules.1.when', 'rules.2', 'rules.2.when', 'version']);
  });

  it('accepts the shipped brewery rule set', () => {
    expect(breweryRuleSet.version).toBe('2026.11.2');
    expect(breweryRuleSet.anomalyExclude).toEqual(['packaged_total', 'packaged_good']);
    expect(breweryRuleSet.rules.length).toBeGreaterThanOrEqual(5);
  });
});

describe('brewery rules', () => {
  const firedFor = (entries: Record<string, FactValue>): string[] => evaluateEdges(breweryRuleSet, facts(entries), new Set()).fired;

  it('flags a pump running dry, and only when the vessel is nearly empty', () => {
    expect(firedFor({ pump_running: true, level_pct: 3 })).toEqual(['pump_dry_run']);
    expect(firedFor({ pump_running: true, level_pct: 40 })).toEqual([]);
    expect(firedFor({ pump_running: false, level_pct: 3 })).toEqual([]);
  });

  it('flags mash pH out of range only while mashing', () => {
    expect(firedFor({ state: 'mashing', ph: 5.0, agitator_rpm: 30 })).toEqual(['mash_ph_low']);
    expect(firedFor({ state: 'mashing', ph: 5.8, agitator_rpm: 30 })).toEqual(['mash_ph_high']);
    expect(firedFor({ state: 'boiling', ph: 5.0 })).toEqual([]);
  });

  it('flags cleaning against a closed valve', () => {
    expect(firedFor({ state: 'cleaning', pump_running: true, valve_open: false, level_pct: 50 })).toEqual(['cleaning_valve_closed']);
    expect(firedFor({ state: 'cleaning', pump_running: true, valve_open: true, level_pct: 50 })).toEqual([]);
  });

  it('flags several independent conditions of one source in rule-set order', () => {
    expect(firedFor({ state: 'fermenting', temperature_c: 27, pressure_bar: 2.8, level_pct: 60 })).toEqual(['fermentation_over_temperature', 'vessel_over_pressure']);
  });
});
