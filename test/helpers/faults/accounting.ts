import { parseDeadLetterEntry } from '#core/ingest/deadLetter';
import { deaggregate } from '#core/kpl/deaggregate';
import { decodeRecord, decodeRecordBytes, InvalidRecordError, type Decoded } from '#core/record';
import { parseOnFailureMessage } from '#core/redrive/onFailureMessage';
import { receiveAll, releaseMessages } from '#core/redrive/queueMessages';
import { readSequenceRange, streamNameFromArn, type StoredStreamRecord } from '#core/redrive/streamRange';
import type { LocalEnvironment } from '../../../local/environment.ts';
import { readWholeStream } from '../kinesis.ts';
import { partsOf } from '../pipeline.ts';

/**
 * Exact accounting of one fault run, from ground truth rather than from the handlers' own
 * counters: the stream says what was produced, the tables what was written, the queues what was
 * dead-lettered or discarded. Every produced record must be in exactly one of those places.
 */
export interface TelemetryAccount {
  /** Records in the stream. */
  produced: number;
  /** Distinct record ids in the stream (equal to produced unless a record was put twice). */
  distinctIds: number;
  /** Distinct readings in the stream (identity: source, fact, ts): what must be written once each. */
  distinctReadings: number;
  /** Samples in telemetry_events: sum(sample_count), each distinct reading merged into one row. */
  written: number;
  rows: number;
  /** Redeliveries absorbed: records skipped by the checkpoint + rows skipped by the unique key. */
  deduplicated: number;
  /** Distinct (shard, sequence) entries in the ingest dead-letter queue. */
  deadLettered: number;
  /** Records inside OnFailure ranges (KinesisBatchInfo), read back from the stream. */
  onFailure: number;
  /** Records neither written, dead-lettered, nor discarded to OnFailure (per source and fact). */
  lost: number;
  /** Samples written more often than produced (per source and fact). */
  duplicated: number;
  /** Rows whose event id was never produced. */
  phantomRows: number;
  /** Rows sharing (source, fact_name, ts): the unique key must make this 0. */
  duplicateKeys: number;
}

export interface DerivedAccount {
  /** Derived events that entered the outbox (audited by a trigger), plus events put on the queue directly. */
  expected: number;
  written: number;
  deadLettered: number;
  /** Still in the outbox after the run. */
  pending: number;
  lost: number;
  /** Rows in rule_events/anomaly_events that no one produced. */
  phantom: number;
}

const AUDIT_SQL = `
CREATE TABLE IF NOT EXISTS fault_outbox_audit (event_id text PRIMARY KEY, body jsonb NOT NULL);
CREATE OR REPLACE FUNCTION fault_audit_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.destination = 'events' THEN
    INSERT INTO fault_outbox_audit VALUES (NEW.message_id, NEW.body::jsonb) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS fault_outbox_audit ON outbox;
CREATE TRIGGER fault_outbox_audit AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION fault_audit_outbox();`;

/**
 * Records every derived event that is committed to the outbox (a rolled-back insert leaves no
 * trace), so the run can check that each one reached the events tables or the events DLQ.
 */
export async function auditOutbox(env: LocalEnvironment): Promise<void> {
  await env.db.exec(AUDIT_SQL);
}

const positionKey = (shardId: string, sequenceNumber: string, sub?: number) => `${shardId}/${sequenceNumber}${sub === undefined ? '' : `/${sub}`}`;

/** Every record the stream holds, KPL aggregates unpacked (a corrupt one stays one record, invalid). */
function* userRecords(stream: readonly StoredStreamRecord[]): Generator<{ r: StoredStreamRecord; sub?: number; decoded: Decoded }> {
  for (const r of stream) {
    const unpacked = deaggregate(Buffer.from(r.data));
    if (unpacked.kind === 'aggregate') {
      for (const [sub, u] of unpacked.records.entries()) yield { r, sub, decoded: decodeRecordBytes(u.data, Date.now(), WIDE_WINDOW) };
    } else {
      yield {
        r,
        decoded:
          unpacked.kind === 'corrupt'
            ? { ok: false, error: new InvalidRecordError('schema', unpacked.detail) }
            : decodeRecord(Buffer.from(r.data).toString('base64'), Date.now(), WIDE_WINDOW),
      };
    }
  }
}
const WIDE_WINDOW = { maxPastSeconds: 10 * 365 * 24 * 3600, maxFutureSeconds: 10 * 365 * 24 * 3600 };

/** The bodies of every message in a queue, left in the queue (a later step may redrive them). */
export async function peekQueue(env: LocalEnvironment, queueUrl: string): Promise<string[]> {
  const messages = await receiveAll(env.sqs, queueUrl, { waitSeconds: 0 });
  await releaseMessages(env.sqs, queueUrl, messages);
  return messages.map((m) => m.Body ?? '');
}

export async function accountTelemetry(env: LocalEnvironment, deduplicated: number): Promise<TelemetryAccount> {
  const stream = await readWholeStream(env.kinesis, env.streamName);
  const dlq = (await peekQueue(env, env.queues.ingestDlq.url)).map((body) => {
    const entry = parseDeadLetterEntry(body);
    if (!entry) throw new Error(`the ingest DLQ holds a message that is not a dead-letter entry: ${body.slice(0, 200)}`);
    return entry;
  });
  const deadLettered = new Set(dlq.map((e) => positionKey(e.shardId, e.sequenceNumber, e.subSequenceNumber)));

  const discarded = new Set<string>();
  for (const body of await peekQueue(env, env.queues.onFailure.url)) {
    const info = parseOnFailureMessage(body)?.KinesisBatchInfo;
    if (!info) throw new Error(`unrecognised OnFailure message: ${body}`);
    const range = await readSequenceRange(env.kinesis, streamNameFromArn(info.streamArn), info.shardId, info.startSequenceNumber, info.endSequenceNumber);
    for (const r of range.records) discarded.add(positionKey(r.shardId, r.sequenceNumber));
  }

  const ids = new Set<string>();
  // Per source and fact, the distinct instants: a producer's resend is the same reading.
  const expectedByKey = new Map<string, Set<number>>();
  let invalidNotDeadLettered = 0;
  let produced = 0;
  for (const { r, sub, decoded } of userRecords(stream)) {
    produced++;
    if (decoded.ok) ids.add(decoded.record.id);
    const position = positionKey(r.shardId, r.sequenceNumber, sub);
    // A discarded record is expected NOT to be in the table: had its batch been committed before
    // the mapping gave up on it, it would show up below as duplicated. (A discarded aggregate takes
    // all its user records with it.)
    if (deadLettered.has(position) || deadLettered.has(positionKey(r.shardId, r.sequenceNumber)) || discarded.has(positionKey(r.shardId, r.sequenceNumber))) continue;
    if (!decoded.ok) {
      invalidNotDeadLettered++;
      continue;
    }
    const key = `${decoded.record.source}/${decoded.record.fact}`;
    let instants = expectedByKey.get(key);
    if (!instants) expectedByKey.set(key, (instants = new Set()));
    instants.add(decoded.tsUs);
  }

  const { rows: perKey } = await env.db.query<{ source: string; fact_name: string; samples: number; rows: number }>(
    'SELECT source, fact_name, sum(sample_count)::int AS samples, count(*)::int AS rows FROM telemetry_events GROUP BY source, fact_name',
  );
  const writtenByKey = new Map(perKey.map((r) => [`${r.source}/${r.fact_name}`, r.samples]));
  let lost = invalidNotDeadLettered;
  let duplicated = 0;
  for (const key of new Set([...expectedByKey.keys(), ...writtenByKey.keys()])) {
    const diff = (writtenByKey.get(key) ?? 0) - (expectedByKey.get(key)?.size ?? 0);
    if (diff > 0) duplicated += diff;
    else lost -= diff;
  }
  const { rows: eventIds } = await env.db.query<{ event_id: string }>('SELECT event_id FROM telemetry_events');
  const { rows: keys } = await env.db.query<{ n: number }>('SELECT (count(*) - count(DISTINCT (source, fact_name, ts)))::int AS n FROM telemetry_events');
  return {
    produced,
    distinctIds: ids.size,
    distinctReadings: [...expectedByKey.values()].reduce((a, s) => a + s.size, 0),
    written: perKey.reduce((a, r) => a + r.samples, 0),
    rows: perKey.reduce((a, r) => a + r.rows, 0),
    deduplicated,
    deadLettered: deadLettered.size,
    onFailure: discarded.size,
    lost,
    duplicated,
    phantomRows: eventIds.filter((r) => !ids.has(r.event_id)).length,
    duplicateKeys: keys[0]?.n ?? 0,
  };
}

/** The event ids an events queue message names, an envelope's too; the body stands for a part without one. */
function eventIdsOf(body: string): string[] {
  try {
    return partsOf(JSON.parse(body))
      .map((p) => (p as { id?: unknown } | null)?.id)
      .map((id) => (typeof id === 'string' ? id : body));
  } catch {
    return [body];
  }
}

/** `injected`: ids of derived events put on the events queue directly (not through the outbox). */
export async function accountDerived(env: LocalEnvironment, injected: readonly string[] = []): Promise<DerivedAccount> {
  const { rows: audited } = await env.db.query<{ event_id: string }>('SELECT event_id FROM fault_outbox_audit');
  const expected = new Set([...audited.map((r) => r.event_id), ...injected]);
  const { rows: stored } = await env.db.query<{ event_id: string }>('SELECT event_id FROM rule_events UNION ALL SELECT event_id FROM anomaly_events');
  const written = new Set(stored.map((r) => r.event_id));
  const dead = new Set((await peekQueue(env, env.queues.eventsDlq.url)).flatMap(eventIdsOf));
  const { rows: pending } = await env.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE destination = 'events' AND sent_at IS NULL`);
  return {
    expected: expected.size,
    written: [...written].filter((id) => expected.has(id)).length,
    // An envelope is dead-lettered whole: its events that were stored count as written only.
    deadLettered: [...dead].filter((id) => expected.has(id) && !written.has(id)).length,
    pending: pending[0]?.n ?? 0,
    lost: [...expected].filter((id) => !written.has(id) && !dead.has(id)).length,
    phantom: [...written].filter((id) => !expected.has(id)).length,
  };
}

/** One scenario's accounting as a small fixed-width table, for the test output. */
export function formatAccount(scenario: string, t: TelemetryAccount, d?: DerivedAccount, notes: string[] = []): string {
  const cols: Array<[string, number | string]> = [
    ['produced', t.produced],
    ['written', t.written],
    ['rows', t.rows],
    ['deduplicated', t.deduplicated],
    ['dead-lettered', t.deadLettered],
    ['on-failure', t.onFailure],
    ['lost', t.lost],
    ['duplicated', t.duplicated],
  ];
  const widths = cols.map(([h, v]) => Math.max(h.length, String(v).length));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  const out = [`scenario: ${scenario}`, line(cols.map(([h]) => h)), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, line(cols.map(([, v]) => String(v)))];
  if (d) {
    out.push(`derived events: expected ${d.expected}, written ${d.written}, dead-lettered ${d.deadLettered}, pending ${d.pending}, lost ${d.lost}, phantom ${d.phantom}`);
  }
  out.push(...notes);
  return out.join('\n');
}
