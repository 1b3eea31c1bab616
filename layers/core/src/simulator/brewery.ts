import type { TelemetryRecord } from '../record.ts';
import { createRandom, type Random } from './random.ts';
import { BrewUnit } from './unit.ts';
import { BREWERY_FACTS, MAX_UNITS, STATE_FACT, unitSource, type BreweryFact } from './vocabulary.ts';

export interface BreweryOptions {
  seed: number;
  /** how many units, FBE_01 upwards (default and maximum 11) */
  units?: number;
}

export interface Brewery {
  /** `count` readings as of nowMs, event times spread over the time since the previous call. */
  next(nowMs: number, count: number): TelemetryRecord[];
}

/** Longest step of the process model; a long gap between calls is integrated in steps this size. */
const MAX_STEP_MS = 1_000;

/**
 * A seeded Monte Carlo brewery. Pure: everything it does depends on the seed and on the nowMs
 * values it is given, so the same seed and the same calls give the same records.
 */
export function createBrewery({ seed, units = MAX_UNITS }: BreweryOptions): Brewery {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(units) || units < 1 || units > MAX_UNITS) {
    throw new RangeError(`units must be an integer in 1..${MAX_UNITS}, got ${units}`);
  }
  const rng = createRandom(seed);
  let plant: BrewUnit[] = [];
  let runId = '';
  let counter = 0;
  let lastMs = Number.NaN;
  // Round robin over every (unit, fact), reshuffled each cycle: every fact of every unit is read
  // once per cycle, in an order that does not repeat.
  const pairs = Array.from({ length: units }, (_, u) => BREWERY_FACTS.map((fact) => ({ u, fact }))).flat();
  let cursor = pairs.length;
  // Event time strictly increases per (unit, fact): ingest treats (source, fact, ts) as the identity
  // of a reading, so two different readings must never share one.
  const lastTs = new Map<string, number>();

  // A unit that changes state reports everything at once, the state last, as a PLC reporting by
  // exception would: rules then never see the new state next to a value left over from the old one.
  const urgent: Array<{ u: number; fact: BreweryFact }> = [];
  const snapshotFacts: BreweryFact[] = [...BREWERY_FACTS.filter((f) => f !== STATE_FACT), STATE_FACT];

  function nextPair(): { u: number; fact: BreweryFact } {
    const first = urgent.shift();
    if (first) return first;
    if (cursor >= pairs.length) {
      shuffle(pairs, rng);
      cursor = 0;
    }
    const pair = pairs[cursor++];
    if (!pair) throw new Error('unreachable: cursor within pairs');
    return pair;
  }

  return {
    next(nowMs, count) {
      if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be finite, got ${nowMs}`);
      if (plant.length === 0) {
        plant = Array.from({ length: units }, (_, u) => new BrewUnit(unitSource(u), rng));
        runId = `${seed.toString(36)}.${nowMs.toString(36)}`;
        lastMs = nowMs;
      }
      const fromMs = lastMs;
      for (let t = fromMs; t < nowMs; t += MAX_STEP_MS) {
        const dtS = (Math.min(nowMs, t + MAX_STEP_MS) - t) / 1000;
        plant.forEach((unit, u) => {
          const before = unit.state;
          unit.advance(dtS);
          if (unit.state !== before) urgent.push(...snapshotFacts.map((fact) => ({ u, fact })));
        });
      }
      lastMs = Math.max(lastMs, nowMs);

      const records: TelemetryRecord[] = [];
      for (let i = 0; i < count; i++) {
        const { u, fact } = nextPair();
        const unit = plant[u];
        if (!unit) throw new Error(`unreachable: unit ${u}`);
        const key = `${u}/${fact}`;
        const spreadMs = fromMs + Math.round(((i + 1) * (nowMs - fromMs)) / count);
        const tsMs = Math.max(spreadMs, (lastTs.get(key) ?? -Infinity) + 1);
        lastTs.set(key, tsMs);
        records.push({
          v: 1,
          id: `${runId}.${(counter++).toString(36)}`,
          source: unit.source,
          fact,
          ts: new Date(tsMs).toISOString(),
          value: unit.read(fact),
        });
      }
      return records;
    },
  };
}

function shuffle<T>(items: T[], rng: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
