import { emptySourceState, type SourceState, type StateChanges } from '../derive.ts';
import { seriesKey } from '../reading.ts';
import type { FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { recordset, rowStatements } from './recordset.ts';
import { jsonLiteral } from './sqlText.ts';

const sourcesLiteral = (sources: readonly string[]) => jsonLiteral(sources.map((s) => JSON.stringify(s)));
const sourceList = (sources: readonly string[]) => `(SELECT json_array_elements_text(${sourcesLiteral(sources)}::json))`;
const US = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::int8`;

/**
 * Locks the sources' rows in ingest_source until commit, in sorted order (no deadlock between two
 * batches that share sources), and returns the sources that have one. Every statement after it in
 * the transaction sees what a batch that held the lock before committed.
 */
export function lockSourcesStatement(sources: readonly string[]): string {
  return `SELECT source FROM ingest_source WHERE source IN ${sourceList(sources)} ORDER BY source FOR UPDATE`;
}

/** Creates the rows of sources seen for the first time (a concurrent creator makes this wait for it). */
export function createSourcesStatement(sources: readonly string[]): string {
  return `INSERT INTO ingest_source (source) SELECT s FROM json_array_elements_text(${sourcesLiteral(sources)}::json) AS s ORDER BY 1
     ON CONFLICT (source) DO NOTHING`;
}

export const lockedSources = (rows: Rows): Set<string> => new Set((rows as Array<{ source: string }>).map((r) => r.source));

/** Loads fact base (with each series' newest stored event time), active rules and EMA series. */
export function loadStatesStatements(sources: readonly string[]): string[] {
  if (sources.length === 0) return [];
  const list = sourceList(sources);
  return [
    `SELECT source, fact_name, value, ${US('ts')} AS ts_us FROM fact_state WHERE source IN ${list}`,
    `SELECT source, rule_id FROM rule_state WHERE active AND source IN ${list}`,
    `SELECT source, fact_name, ema, emvar, samples, ${US('last_ts')} AS last_ts_us FROM anomaly_state WHERE source IN ${list}`,
  ];
}

/** Reads the results of `loadStatesStatements` into one state per source and the series' newest times. */
export function parseSourceStates(sources: readonly string[], results: readonly Rows[]): { states: Map<string, SourceState>; newest: Map<string, number> } {
  const states = new Map<string, SourceState>(sources.map((s) => [s, emptySourceState()]));
  const newest = new Map<string, number>();
  const [facts = [], rules = [], ema = []] = results as [
    Array<{ source: string; fact_name: string; value: FactValue; ts_us: number }>?,
    Array<{ source: string; rule_id: string }>?,
    Array<{ source: string; fact_name: string; ema: number; emvar: number; samples: number; last_ts_us: number }>?,
  ];
  // Rows of other sources (not locked by this transaction) are left out: they are read again once locked.
  for (const r of facts) {
    const state = states.get(r.source);
    if (!state) continue;
    state.facts.set(r.fact_name, { value: r.value, tsUs: r.ts_us });
    newest.set(seriesKey(r.source, r.fact_name), r.ts_us);
  }
  for (const r of rules) states.get(r.source)?.activeRules.add(r.rule_id);
  for (const r of ema) {
    states.get(r.source)?.ema.set(r.fact_name, { ema: r.ema, emvar: r.emvar, samples: r.samples, lastTsUs: r.last_ts_us });
  }
  return { states, newest };
}

const FACT_STATE = recordset({ source: 's text', fact_name: 'f text', value: 'v jsonb', ts: 't timestamptz' });
const RULE_STATE = recordset({ source: 's text', rule_id: 'r text', active: 'a boolean', changed_at: 't timestamptz' });
const ANOMALY_STATE = recordset({ source: 's text', fact_name: 'f text', ema: 'm float8', emvar: 'v float8', samples: 'n int', last_ts: 't timestamptz' });

/** Upserts of the state a batch changed; `derive` reports one change per key, the newest. */
export function saveStateStatements(changes: StateChanges): string[] {
  return [
    ...rowStatements(
      changes.facts.map((f) => FACT_STATE.row({ source: f.source, fact_name: f.fact, value: f.value, ts: f.ts })),
      (rows) => `INSERT INTO fact_state (source, fact_name, value, ts)
     SELECT DISTINCT ON (r.source, r.fact_name) r.source, r.fact_name, r.value, r.ts FROM ${FACT_STATE.from(rows)} r
     ORDER BY r.source, r.fact_name, r.ts DESC
     ON CONFLICT (source, fact_name) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts
     WHERE fact_state.ts < EXCLUDED.ts`,
    ),
    ...rowStatements(
      changes.rules.map((r) => RULE_STATE.row({ source: r.source, rule_id: r.ruleId, active: r.active, changed_at: r.ts })),
      (rows) => `INSERT INTO rule_state (source, rule_id, active, changed_at)
     SELECT r.source, r.rule_id, r.active, r.changed_at FROM ${RULE_STATE.from(rows)} r
     ON CONFLICT (source, rule_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at`,
    ),
    ...rowStatements(
      changes.ema.map((e) => ANOMALY_STATE.row({ source: e.source, fact_name: e.fact, ema: e.state.ema, emvar: e.state.emvar, samples: e.state.samples, last_ts: e.ts })),
      (rows) => `INSERT INTO anomaly_state (source, fact_name, ema, emvar, samples, last_ts)
     SELECT DISTINCT ON (r.source, r.fact_name) r.source, r.fact_name, r.ema, r.emvar, r.samples, r.last_ts FROM ${ANOMALY_STATE.from(rows)} r
     ORDER BY r.source, r.fact_name, r.last_ts DESC
     ON CONFLICT (source, fact_name) DO UPDATE
       SET ema = EXCLUDED.ema, emvar = EXCLUDED.emvar, samples = EXCLUDED.samples, last_ts = EXCLUDED.last_ts`,
    ),
  ];
}
