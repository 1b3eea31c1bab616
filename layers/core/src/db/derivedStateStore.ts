import { emptySourceState, type SourceState, type StateChanges } from '../derive.ts';
import { seriesKey } from '../reading.ts';
import { instantMicros, type FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { recordset, rowStatements } from './recordset.ts';
import { jsonLiteral } from './sqlText.ts';

const sourcesLiteral = (sources: readonly string[]) => jsonLiteral(sources.map((s) => JSON.stringify(s)));
const sourceList = (sources: readonly string[]) => `(SELECT json_array_elements_text(${sourcesLiteral(sources)}::json))`;

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

/** Loads fact base (with each series' newest stored event time), active rules and EMA series (migrations/0012). */
export function loadStatesStatements(sources: readonly string[]): string[] {
  if (sources.length === 0) return [];
  const list = sourceList(sources);
  return [`SELECT source, facts, ema FROM ingest_source WHERE source IN ${list}`, `SELECT source, rule_id FROM rule_state WHERE active AND source IN ${list}`];
}

/** A source's state documents as migrations/0012 describes them. */
type FactsDocument = Record<string, [value: FactValue, tsUs: number]>;
type EmaDocument = Record<string, [ema: number, emvar: number, samples: number, lastTsUs: number]>;

/** Reads the results of `loadStatesStatements` into one state per source and the series' newest times. */
export function parseSourceStates(sources: readonly string[], results: readonly Rows[]): { states: Map<string, SourceState>; newest: Map<string, number> } {
  const states = new Map<string, SourceState>(sources.map((s) => [s, emptySourceState()]));
  const newest = new Map<string, number>();
  const [documents = [], rules = []] = results as [Array<{ source: string; facts: FactsDocument; ema: EmaDocument }>?, Array<{ source: string; rule_id: string }>?];
  // Rows of other sources (not locked by this transaction) are left out: they are read again once locked.
  for (const r of documents) {
    const state = states.get(r.source);
    if (!state) continue;
    for (const [fact, [value, tsUs]] of Object.entries(r.facts)) {
      state.facts.set(fact, { value, tsUs });
      newest.set(seriesKey(r.source, fact), tsUs);
    }
    for (const [fact, [ema, emvar, samples, lastTsUs]] of Object.entries(r.ema)) state.ema.set(fact, { ema, emvar, samples, lastTsUs });
  }
  for (const r of rules) states.get(r.source)?.activeRules.add(r.rule_id);
  return { states, newest };
}

const SOURCE_STATE = recordset({ source: 's text', facts: 'f jsonb', ema: 'e jsonb' });
const RULE_STATE = recordset({ source: 's text', rule_id: 'r text', active: 'a boolean', changed_at: 't timestamptz' });

/** Keys of one source per row at most this size (an upper bound of its JSON): every statement stays under the limit (sqlText.ts). */
const PART_BYTES = 8_000;

/**
 * Upserts of the state a batch changed; `derive` reports one change per key, the newest, and only
 * what moves a fact or an EMA series forward (the source's row is locked since its state was read),
 * so each source's documents take its changed keys as they are. A source with more changes than
 * fit one row gets several, each in a statement of its own: a statement may name a row only once.
 */
export function saveStateStatements(changes: StateChanges): string[] {
  const parts = new Map<string, Array<{ facts: FactsDocument; ema: EmaDocument; bytes: number }>>();
  const partOf = (source: string, bytes: number) => {
    let list = parts.get(source);
    if (!list) parts.set(source, (list = []));
    let part = list.at(-1);
    // Without a prototype, a fact named __proto__ is a key like any other.
    if (!part || part.bytes + bytes > PART_BYTES) list.push((part = { facts: Object.create(null) as FactsDocument, ema: Object.create(null) as EmaDocument, bytes: 0 }));
    part.bytes += bytes;
    return part;
  };
  for (const f of changes.facts) {
    const valueBytes = typeof f.value === 'string' ? 6 * f.value.length + 2 : 24;
    partOf(f.source, f.fact.length + valueBytes + 32).facts[f.fact] = [f.value, instantMicros(f.ts)];
  }
  for (const e of changes.ema) partOf(e.source, e.fact.length + 112).ema[e.fact] = [e.state.ema, e.state.emvar, e.state.samples, instantMicros(e.ts)];
  const rounds = Math.max(0, ...[...parts.values()].map((list) => list.length));
  return [
    ...Array.from({ length: rounds }, (_, k) =>
      rowStatements(
        [...parts].flatMap(([source, list]) => (list[k] ? [SOURCE_STATE.row({ source, facts: list[k].facts, ema: list[k].ema })] : [])),
        (rows) => `INSERT INTO ingest_source (source, facts, ema)
     SELECT r.source, r.facts, r.ema FROM ${SOURCE_STATE.from(rows)} r
     ON CONFLICT (source) DO UPDATE SET facts = ingest_source.facts || EXCLUDED.facts, ema = ingest_source.ema || EXCLUDED.ema`,
      ),
    ).flat(),
    ...rowStatements(
      changes.rules.map((r) => RULE_STATE.row({ source: r.source, rule_id: r.ruleId, active: r.active, changed_at: r.ts })),
      (rows) => `INSERT INTO rule_state (source, rule_id, active, changed_at)
     SELECT r.source, r.rule_id, r.active, r.changed_at FROM ${RULE_STATE.from(rows)} r
     ON CONFLICT (source, rule_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at`,
    ),
  ];
}
