import { emptySourceState, type SourceState, type StateChanges } from '../derive.ts';
import type { FactValue } from '../record.ts';
import type { SqlSession } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

const sourcesLiteral = (sources: readonly string[]) => jsonLiteral(sources.map((s) => JSON.stringify(s)));

/**
 * Loads fact base, active rules and EMA series for the batch's sources. Rows are locked until
 * commit (FOR UPDATE) so concurrent batches of one source, which Lambda never runs but a manual
 * replay could, apply their edges one after the other.
 */
export async function loadSourceStates(tx: SqlSession, sources: readonly string[]): Promise<Map<string, SourceState>> {
  const states = new Map<string, SourceState>(sources.map((s) => [s, emptySourceState()]));
  if (sources.length === 0) return states;
  const list = `(SELECT json_array_elements_text(${sourcesLiteral(sources)}::json))`;
  const [facts, rules, ema] = [
    await tx.query<{ source: string; fact_name: string; value: FactValue; ts: string }>(
      `SELECT source, fact_name, value, ts FROM fact_state WHERE source IN ${list} FOR UPDATE`,
    ),
    await tx.query<{ source: string; rule_id: string }>(
      `SELECT source, rule_id FROM rule_state WHERE active AND source IN ${list} FOR UPDATE`,
    ),
    await tx.query<{ source: string; fact_name: string; ema: number; emvar: number; samples: number; last_ts: string }>(
      `SELECT source, fact_name, ema, emvar, samples, last_ts FROM anomaly_state WHERE source IN ${list} FOR UPDATE`,
    ),
  ];
  const of = (source: string) => states.get(source) ?? emptySourceState();
  for (const r of facts.rows) of(r.source).facts.set(r.fact_name, { value: r.value, tsMs: Date.parse(r.ts) });
  for (const r of rules.rows) of(r.source).activeRules.add(r.rule_id);
  for (const r of ema.rows) {
    of(r.source).ema.set(r.fact_name, { ema: r.ema, emvar: r.emvar, samples: r.samples, lastTsMs: Date.parse(r.last_ts) });
  }
  return states;
}

async function upsert(tx: SqlSession, rows: readonly object[], head: string, tail: string): Promise<void> {
  for (const chunk of chunkRows(rows.map((r) => JSON.stringify(r)), head.length + tail.length)) {
    await tx.query(head + jsonLiteral(chunk) + tail);
  }
}

export async function saveStateChanges(tx: SqlSession, changes: StateChanges): Promise<void> {
  // A source+fact may change twice in one batch only through out-of-order rows; keep the newest.
  await upsert(
    tx,
    changes.facts.map((f) => ({ s: f.source, f: f.fact, v: f.value, t: f.ts })),
    `INSERT INTO fact_state (source, fact_name, value, ts)
     SELECT DISTINCT ON (r.s, r.f) r.s, r.f, r.v, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, f text, v jsonb, t timestamptz) ORDER BY r.s, r.f, r.t DESC
     ON CONFLICT (source, fact_name) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts
     WHERE fact_state.ts < EXCLUDED.ts`,
  );
  await upsert(
    tx,
    changes.rules.map((r) => ({ s: r.source, r: r.ruleId, a: r.active, t: r.ts })),
    `INSERT INTO rule_state (source, rule_id, active, changed_at)
     SELECT r.s, r.r, r.a, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, r text, a boolean, t timestamptz)
     ON CONFLICT (source, rule_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at`,
  );
  await upsert(
    tx,
    changes.ema.map((e) => ({ s: e.source, f: e.fact, m: e.state.ema, v: e.state.emvar, n: e.state.samples, t: e.ts })),
    `INSERT INTO anomaly_state (source, fact_name, ema, emvar, samples, last_ts)
     SELECT DISTINCT ON (r.s, r.f) r.s, r.f, r.m, r.v, r.n, r.t FROM json_to_recordset(`,
    `::json) AS r(s text, f text, m float8, v float8, n int, t timestamptz) ORDER BY r.s, r.f, r.t DESC
     ON CONFLICT (source, fact_name) DO UPDATE
       SET ema = EXCLUDED.ema, emvar = EXCLUDED.emvar, samples = EXCLUDED.samples, last_ts = EXCLUDED.last_ts`,
  );
}
