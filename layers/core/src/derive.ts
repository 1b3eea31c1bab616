import { observe, type EmaConfig, type EmaState, DEFAULT_EMA } from './anomaly.ts';
import { derivedEventId, type DerivedEvent } from './events.ts';
import type { MergedRow } from './merge.ts';
import type { FactValue } from './record.ts';
import { evaluateEdges } from './rules/engine.ts';
import type { RuleSet } from './rules/ruleSet.ts';

/** What the database knows about one source before this batch. */
export interface SourceState {
  facts: Map<string, { value: FactValue; tsUs: number }>;
  activeRules: Set<string>;
  ema: Map<string, EmaState & { lastTsUs: number }>;
}

export interface StateChanges {
  facts: Array<{ source: string; fact: string; value: FactValue; ts: string }>;
  rules: Array<{ source: string; ruleId: string; active: boolean; ts: string }>;
  ema: Array<{ source: string; fact: string; state: EmaState; ts: string }>;
}

export interface Derivation {
  events: DerivedEvent[];
  changes: StateChanges;
}

export const emptySourceState = (): SourceState => ({ facts: new Map(), activeRules: new Set(), ema: new Map() });

/**
 * Applies one batch's merged rows to the fact base, then evaluates the rules once per source
 * (edge-triggered) and the EMA detector once per numeric series. Rows older than what the state
 * already holds (out-of-order delivery) are written to the table but do not move the state back.
 *
 * The detector judges the batch's extreme (min or max, whichever is farther from the mean), so a
 * spike merged away by last-write-wins still fires, and then learns from the batch's last value.
 */
export function derive(
  rows: readonly MergedRow[],
  /** Updated in place, so consecutive batches see each other's state. */
  states: Map<string, SourceState>,
  ruleSet: RuleSet,
  ema: EmaConfig = DEFAULT_EMA,
): Derivation {
  const events: DerivedEvent[] = [];
  const changes: StateChanges = { facts: [], rules: [], ema: [] };
  // Map.groupBy would do, but Node 20 (the local runner's runtime) does not have it.
  const bySource = new Map<string, MergedRow[]>();
  for (const row of rows) {
    const group = bySource.get(row.source);
    if (group) group.push(row);
    else bySource.set(row.source, [row]);
  }

  for (const [source, sourceRows] of bySource) {
    // Oldest first: a batch spanning a minute edge has two rows per series, and the detector and
    // the fact base must see them in time order.
    sourceRows.sort((a, b) => a.tsUs - b.tsUs);
    let state = states.get(source);
    if (!state) states.set(source, (state = emptySourceState()));
    // One change per fact, the newest: in raw mode a batch holds many rows of one series, and only
    // its final state needs writing.
    const newestFacts = new Map<string, MergedRow>();
    const learned = new Map<string, { state: EmaState; ts: string }>();
    let latest: MergedRow | undefined;
    for (const row of sourceRows) {
      const known = state.facts.get(row.fact);
      if (!known || row.tsUs > known.tsUs) {
        state.facts.set(row.fact, { value: row.value, tsUs: row.tsUs });
        newestFacts.set(row.fact, row);
        if (!latest || row.tsUs > latest.tsUs) latest = row;
      }
      const anomaly = ruleSet.anomalyExclude.includes(row.fact) ? undefined : detect(source, row, state, ema, learned);
      if (anomaly) events.push(anomaly);
    }
    for (const row of newestFacts.values()) changes.facts.push({ source, fact: row.fact, value: row.value, ts: row.ts });
    for (const [fact, l] of learned) changes.ema.push({ source, fact, state: l.state, ts: l.ts });
    if (!latest) continue; // nothing newer than the state: rules cannot have changed

    const factValues = new Map([...state.facts].map(([k, v]) => [k, v.value]));
    const edges = evaluateEdges(ruleSet, factValues, state.activeRules);
    state.activeRules = edges.active;
    for (const ruleId of edges.fired) {
      changes.rules.push({ source, ruleId, active: true, ts: latest.ts });
      events.push({
        v: 1,
        kind: 'rule',
        id: derivedEventId('rule', source, ruleId, latest.ts),
        ts: latest.ts,
        source,
        ruleId,
        rulesVersion: ruleSet.version,
      });
    }
    for (const ruleId of edges.cleared) changes.rules.push({ source, ruleId, active: false, ts: latest.ts });
  }
  return { events, changes };
}

/** `learned`: the source's newest EMA state per fact, this row's when it moves the series. */
function detect(source: string, row: MergedRow, state: SourceState, cfg: EmaConfig, learned: Map<string, { state: EmaState; ts: string }>): DerivedEvent | undefined {
  if (row.min === null || row.max === null || typeof row.value === 'boolean') return undefined;
  const series = state.ema.get(row.fact);
  if (series && row.tsUs <= series.lastTsUs) return undefined;
  const last = typeof row.value === 'number' ? row.value : row.avg;
  if (last === null) return undefined;
  const extreme = series && Math.abs(row.min - series.ema) > Math.abs(row.max - series.ema) ? row.min : row.max;
  const judged = observe(series, extreme, cfg);
  // A row of one reading (raw mode, or a series read once in the batch) is judged and learned from the same value.
  const next = extreme === last ? judged.state : observe(series, last, cfg).state;
  state.ema.set(row.fact, { ...next, lastTsUs: row.tsUs });
  learned.set(row.fact, { state: next, ts: row.ts });
  if (!judged.anomaly) return undefined;
  return {
    v: 1,
    kind: 'anomaly',
    id: derivedEventId('anomaly', source, row.fact, row.ts),
    ts: row.ts,
    source,
    fact: row.fact,
    value: judged.anomaly.value,
    ema: judged.anomaly.ema,
    sigma: judged.anomaly.sigma,
  };
}
