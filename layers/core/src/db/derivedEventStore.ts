import type { DerivedEvent } from '../events.ts';
import { isDataError } from './pgErrors.ts';
import type { SqlSession } from './session.ts';
import { recordset } from './recordset.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

export interface DerivedWriteCounts {
  inserted: number;
  /** Events whose id was already stored (redelivery, republished outbox entry, or repeated in the batch). */
  duplicates: number;
  /** Events the database refused as data (each isolated from its chunk), with the reason. */
  refused: Array<{ event: DerivedEvent; reason: string }>;
}

// Rule firings and anomalies in one row shape: `kind` says which table a row goes to.
const DERIVED_EVENT = recordset({
  ...{ kind: 'k text', event_id: 'id text', ts: 'ts timestamptz', source: 's text' },
  ...{ rule_id: 'r text', rules_version: 'rv text', fact_name: 'f text', value: 'v float8', ema: 'e float8', sigma: 'sg float8' },
});

// Both tables in one statement: one round trip per chunk, and a chunk is written whole or not at all.
// Rows travel as one JSON literal through the simple protocol (see sqlText.ts: no RDS Proxy pinning).
const ROWS = '%ROWS%';
const INSERT_TEMPLATE = `WITH x AS (
  SELECT * FROM ${DERIVED_EVENT.from(ROWS)} x
), rule_ins AS (
  INSERT INTO rule_events (event_id, ts, source, rule_id, rules_version)
  SELECT event_id, ts, source, rule_id, rules_version FROM x WHERE kind = 'rule'
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1
), anomaly_ins AS (
  INSERT INTO anomaly_events (event_id, ts, source, fact_name, value, ema, sigma)
  SELECT event_id, ts, source, fact_name, value, ema, sigma FROM x WHERE kind = 'anomaly'
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM rule_ins)::int + (SELECT count(*) FROM anomaly_ins)::int AS inserted`;
// Concatenated, not String.replace: a replacement string would expand `$&` found in the data.
const [HEAD, TAIL] = INSERT_TEMPLATE.split(ROWS) as [string, string];
const TEMPLATE_BYTES = Buffer.byteLength(HEAD) + Buffer.byteLength(TAIL);

const rowJson = (e: DerivedEvent): string =>
  e.kind === 'rule'
    ? DERIVED_EVENT.row({ kind: e.kind, event_id: e.id, ts: e.ts, source: e.source, rule_id: e.ruleId, rules_version: e.rulesVersion })
    : DERIVED_EVENT.row({ kind: e.kind, event_id: e.id, ts: e.ts, source: e.source, fact_name: e.fact, value: e.value, ema: e.ema, sigma: e.sigma });

/**
 * Writes rule firings to rule_events and anomalies to anomaly_events, idempotent by event id.
 * One statement per batch (more only when the batch's text would exceed the 16 KB pinning limit).
 * A chunk the database refuses as data is written again one event at a time, so only the event
 * that cannot be stored is refused; any other error (connection, timeout) is thrown.
 */
export async function writeDerivedEvents(db: SqlSession, events: readonly DerivedEvent[]): Promise<DerivedWriteCounts> {
  const counts: DerivedWriteCounts = { inserted: 0, duplicates: 0, refused: [] };
  const write = async (chunk: readonly string[]) => (await db.query<{ inserted: number }>(HEAD + jsonLiteral(chunk) + TAIL)).rows[0]?.inserted ?? 0;
  const json = events.map(rowJson);
  let offset = 0;
  for (const chunk of chunkRows(json, TEMPLATE_BYTES)) {
    try {
      counts.inserted += await write(chunk);
    } catch (e) {
      if (!isDataError(e)) throw e;
      for (const [i, row] of chunk.entries()) {
        try {
          counts.inserted += await write([row]);
        } catch (one) {
          if (!isDataError(one)) throw one;
          counts.refused.push({ event: events[offset + i] as DerivedEvent, reason: (one as Error).message });
        }
      }
    }
    offset += chunk.length;
  }
  counts.duplicates = events.length - counts.inserted - counts.refused.length;
  return counts;
}
