import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, TelemetryRecordSchema, type FactValue, type TelemetryRecord } from '#core/record';
import { breweryRuleSet } from '#core/rules/brewery';
import { ruleHolds } from '#core/rules/engine';
import { createBrewery } from '#core/simulator/brewery';
import { createRandom } from '#core/simulator/random';
import { BREW_STATES, BREWERY_FACTS, IDEAL_PACKAGING_PER_MIN, MAX_UNITS, unitSource } from '#core/simulator/vocabulary';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');

/** Ticks of `perTick` records every `tickMs`, as the simulator function runs it. */
function simulate(seed: number, seconds: number, perTick: number, tickMs = 100): TelemetryRecord[][] {
  const brewery = createBrewery({ seed });
  const ticks: TelemetryRecord[][] = [];
  for (let t = 0; t < seconds * 1000; t += tickMs) ticks.push(brewery.next(T0 + t, perTick));
  return ticks;
}

/** Replays records into per-source fact maps and counts each rule's rising edges, per record. */
function ruleFirings(records: readonly TelemetryRecord[]): Record<string, number> {
  const facts = new Map<string, Map<string, FactValue>>();
  const active = new Set<string>();
  const fired: Record<string, number> = {};
  for (const r of records) {
    const unit = facts.get(r.source) ?? new Map<string, FactValue>();
    unit.set(r.fact, r.value);
    facts.set(r.source, unit);
    for (const rule of breweryRuleSet.rules) {
      const key = `${r.source}/${rule.id}`;
      const holds = ruleHolds(rule, unit);
      if (holds && !active.has(key)) fired[rule.id] = (fired[rule.id] ?? 0) + 1;
      if (holds) active.add(key);
      else active.delete(key);
    }
  }
  return fired;
}

describe('seeded randomness', () => {
  it('repeats the same sequence for the same seed and a different one for another seed', () => {
    // Prepare
    const draw = (seed: number) => {
      const rng = createRandom(seed);
      return Array.from({ length: 5 }, () => rng.next());
    };

    // Act
    const first = draw(7);
    const again = draw(7);
    const other = draw(8);

    // Assess
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    for (const v of first) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('brewery simulator', () => {
  it('produces the same records for the same seed and clock', () => {
    // Act
    const a = simulate(42, 20, 50).flat();
    const b = simulate(42, 20, 50).flat();

    // Assess
    expect(b).toEqual(a);
  });

  it('produces different values for a different seed', () => {
    // Act
    const values = (seed: number) =>
      simulate(seed, 5, 50)
        .flat()
        .map((r) => [r.source, r.fact, r.value]);

    // Assess
    expect(values(43)).not.toEqual(values(42));
  });

  it('produces only records the ingest contract accepts, with unique ids', () => {
    // Prepare
    const window = { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 };

    // Act
    const records = simulate(5, 60, 100).flat();

    // Assess
    expect(records).toHaveLength(60_000);
    for (const r of records.slice(0, 5_000)) expect(TelemetryRecordSchema.safeParse(r).success).toBe(true);
    const rejected = records.filter((r) => {
      const data = Buffer.from(encodeRecord(r)).toString('base64');
      return !decodeRecord(data, Date.parse(r.ts), window).ok;
    });
    expect(rejected).toEqual([]);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
  });

  it('reads every fact of every unit once per round-robin cycle', () => {
    // Prepare
    const brewery = createBrewery({ seed: 9 });
    const pairs = MAX_UNITS * BREWERY_FACTS.length;

    // Act
    const cycle = brewery.next(T0, pairs);

    // Assess
    const seen = new Set(cycle.map((r) => `${r.source}/${r.fact}`));
    expect(seen.size).toBe(pairs);
    expect(new Set(cycle.map((r) => r.source))).toEqual(new Set(Array.from({ length: MAX_UNITS }, (_, u) => unitSource(u))));
  });

  it('keeps event time strictly increasing per source and fact, so no two readings share an identity', () => {
    // Act: more readings per tick than milliseconds in it
    const records = simulate(3, 5, 2_000, 100).flat();

    // Assess
    const last = new Map<string, number>();
    const notIncreasing = records.filter((r) => {
      const key = `${r.source}/${r.fact}`;
      const ts = Date.parse(r.ts);
      const before = last.get(key) ?? -Infinity;
      last.set(key, ts);
      return ts <= before;
    });
    expect(notIncreasing).toEqual([]);
  });

  it('walks every unit through the brewing cycle in order', () => {
    // Act
    const records = simulate(11, 300, 50).flat();

    // Assess
    const order = ['idle', 'mashing', 'boiling', 'fermenting', 'cleaning'];
    const states = new Map<string, string[]>();
    for (const r of records.filter((x) => x.fact === 'state')) {
      const seen = states.get(r.source) ?? [];
      if (seen.at(-1) !== r.value) seen.push(r.value as string);
      states.set(r.source, seen);
    }
    expect(states.size).toBe(MAX_UNITS);
    for (const sequence of states.values()) {
      expect(sequence.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < sequence.length; i++) {
        const previous = order.indexOf(sequence[i - 1] as string);
        expect(sequence[i]).toBe(order[(previous + 1) % order.length]);
      }
    }
    expect(new Set(records.filter((r) => r.fact === 'state').map((r) => r.value))).toEqual(new Set(BREW_STATES));
  });

  it('holds temperatures near the setpoint of the state and keeps pump and valve consistent with it', () => {
    // Act
    const ticks = simulate(21, 120, 150);

    // Assess: within one tick a unit has one state, so its readings in that tick belong together
    const temperatures = new Map<string, number[]>();
    for (const tick of ticks) {
      const byUnit = new Map<string, TelemetryRecord[]>();
      for (const r of tick) byUnit.set(r.source, [...(byUnit.get(r.source) ?? []), r]);
      for (const readings of byUnit.values()) {
        const get = (fact: string) => readings.find((r) => r.fact === fact)?.value;
        const state = get('state');
        if (typeof state !== 'string') continue;
        const pump = get('pump_running');
        if (pump !== undefined) expect(pump).toBe(state === 'mashing' || state === 'cleaning');
        const temperature = get('temperature_c');
        if (typeof temperature === 'number') temperatures.set(state, [...(temperatures.get(state) ?? []), temperature]);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    expect(median(temperatures.get('fermenting') ?? [])).toBeCloseTo(19, 0);
    expect(median(temperatures.get('mashing') ?? [])).toBeGreaterThan(60);
    expect(median(temperatures.get('boiling') ?? [])).toBeGreaterThan(95);
  });

  it('counts packaged units monotonically while not idle, near the ideal rate, about 97 % good', () => {
    // Act
    const records = simulate(17, 300, 50).flat();

    // Assess
    const series = new Map<string, number[]>();
    for (const r of records.filter((x) => x.fact === 'packaged_total' || x.fact === 'packaged_good')) {
      const key = `${r.source}/${r.fact}`;
      series.set(key, [...(series.get(key) ?? []), r.value as number]);
    }
    const decreasing = [...series].filter(([, xs]) => xs.some((x, i) => i > 0 && x < (xs[i - 1] as number)));
    expect(decreasing).toEqual([]);
    for (let u = 0; u < MAX_UNITS; u++) {
      const total = series.get(`${unitSource(u)}/packaged_total`) ?? [];
      const good = series.get(`${unitSource(u)}/packaged_good`) ?? [];
      const made = (total.at(-1) as number) - (total[0] as number);
      const madeGood = (good.at(-1) as number) - (good[0] as number);
      // performance as OEE computes it: units / (ideal rate x share of state samples not idle x time)
      const states = records.filter((r) => r.source === unitSource(u) && r.fact === 'state');
      const runShare = states.filter((r) => r.value !== 'idle').length / states.length;
      const performance = made / ((IDEAL_PACKAGING_PER_MIN / 60) * 300 * runShare);
      expect(performance).toBeGreaterThan(0.8);
      expect(performance).toBeLessThan(1.02);
      expect(madeGood / made).toBeGreaterThan(0.92);
      expect(madeGood / made).toBeLessThan(1);
      expect(good.at(-1) as number).toBeLessThanOrEqual(total.at(-1) as number);
    }
  });

  it('trips the over-temperature, over-pressure and dry-run rules within a 30 second run at 1000 events/s', () => {
    // Act
    const fired = ruleFirings(simulate(42, 30, 100).flat());

    // Assess
    expect(fired.fermentation_over_temperature).toBeGreaterThan(0);
    expect(fired.vessel_over_pressure).toBeGreaterThan(0);
    expect(fired.pump_dry_run).toBeGreaterThan(0);
  });

  it('trips every shipped rule over ten minutes, a few times per unit and minute at most', () => {
    // Act
    const fired = ruleFirings(simulate(42, 600, 50).flat());

    // Assess
    for (const rule of breweryRuleSet.rules) expect(fired[rule.id] ?? 0, rule.id).toBeGreaterThan(0);
    const perUnitMinute = Object.values(fired).reduce((a, b) => a + b, 0) / (MAX_UNITS * 10);
    expect(perUnitMinute).toBeGreaterThan(0.5);
    expect(perUnitMinute).toBeLessThan(6);
  });

  it('rejects a seed that is not an integer and a unit count outside 1..11', () => {
    expect(() => createBrewery({ seed: 1.5 })).toThrow(RangeError);
    expect(() => createBrewery({ seed: 1, units: 12 })).toThrow(RangeError);
    expect(() => createBrewery({ seed: 1, units: 0 })).toThrow(RangeError);
  });
});
