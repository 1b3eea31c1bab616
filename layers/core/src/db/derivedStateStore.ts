import { emptySourceState, type SourceState, type StateChanges } from '../derive.ts';
import type { FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

const sourcesLiteral = (sources: readonly string[]) => jsonLiteral(sources.map((s) => JSON.stringify(s)));

/**
 * Loads fact base, active rules and EMA series for the batch's sources (three statements). Rows are
 * locked until commit (FOR UPDATE) so concurrent batches of one source, which Lambda never runs but
 * a manual replay could, apply their edges one after the other.
 */
export function loadStatesStatements(sources: readonly string[]): string[] {
  if (sources.length === 0) return [];
  const list = `(SELECT json_array_elements_text(${sourcesLiteral(sources)}::json))`;
  return [
    `SELECT source, fact_name, value, ts FROM fact_state WHERE source IN ${list} FOR UPDATE`,
    `SELECT source, rule_id FROM rule_state WHERE active AND source IN ${list} FOR UPDATE`,
    `SELECT source, fact_name, ema, emvar, samples, last_ts FROM anomaly_state WHERE source IN ${list} FOR UPDATE`,
  ];
}

/** Reads the results of `loadStatesStatements` into one state per source. */
export function parseSourceStates(sources: readonly string[], results: readonly Rows[]): Map<string, SourceState> {
  const states = new Map<string, SourceState>(sources.map((s) => [s, emptySourceState()]));
  const [facts = [], rules = [], ema = []] = results as [
    Array<{ source: string; fact_name: string; value: FactValue; ts: string }>?,
    Array<{ source: string; rule_id: string }>?,
    Array<{ source: string; fact_name: string; ema: number; emvar: number; samples: number; last_ts: string }>?,
  ];
  const of = (source: string) => states.get(source) ?? emptySourceState();
  for (const r of facts) of(r.source).facts.set(r.fact_name, { value: r.value, tsMs: Date.parse(r.ts) });
  for (const r of rules) of(r.source).activeRules.add(r.rule_id);
  for (const r of ema) {
    of(r.source).ema.set(r.fact_name, { ema: r.ema, emvar: r.emvar, samples: r.samples, lastTsMs: Date.parse(r.last_ts) });
  }
  return states;
}

const upsert = (rows: readonly object[], head: string, tail: string): string[] =>
  chunkRows(rows.map((r) => JSON.stringify(r)), head.length + tail.length).map((chunk) => head + jsonLiteral(chunk) + tail);

/** Upserts of the state a batch changed; `derive` reports one change per key, the newest. */
export function saveStateStatements(changes: StateChanges): string[] {
  return [
    ...upsert(
    changes.facts.map((f) => ({ s: f.source, f: f.fact, v: f.value, t: f.ts })),
    `INSERT INTO fact_state (source, fact_name, value, ts)
     SELECT DISTINCT ON (r.s, r.f) r.s, r.f, r.v, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, f text, v jsonb, t timestamptz) ORDER BY r.s, r.f, r.t DESC
     ON CONFLICT (source, fact_name) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts
     WHERE fact_state.ts < EXCLUDED.ts`,
    ),
    ...upsert(
    changes.rules.map((r) => ({ s: r.source, r: r.ruleId, a: r.active, t: r.ts })),
    `INSERT INTO rule_state (source, rule_id, active, changed_at)
     SELECT r.s, r.r, r.a, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, r text, a boolean, t timestamptz)
     ON CONFLICT (source, rule_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at`,
    ),
    ...upsert(
    changes.ema.map((e) => ({ s: e.source, f: e.fact, m: e.state.ema, v: e.state.emvar, n: e.state.samples, t: e.ts })),
    `INSERT INTO anomaly_state (source, fact_name, ema, emvar, samples, last_ts)
     SELECT DISTINCT ON (r.s, r.f) r.s, r.f, r.m, r.v, r.n, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, f text, m float8, v float8, n int, t timestamptz) ORDER BY r.s, r.f, r.t DESC
     ON CONFLICT (source, fact_name) DO UPDATE
       SET ema = EXCLUDED.ema, emvar = EXCLUDED.emvar, samples = EXCLUDED.samples, last_ts = EXCLUDED.last_ts`,
    ),
  ];
}
