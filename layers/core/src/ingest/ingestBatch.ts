import type { SQSClient } from '@aws-sdk/client-sqs';
import { advanceCheckpointsStatement, highestPositions, isAlreadyCommitted, loadCheckpointsStatement, parseCheckpoints } from '../db/checkpointStore.ts';
import { loadStatesStatements, parseSourceStates, saveStateStatements } from '../db/derivedStateStore.ts';
import { addToOutboxStatements, CLAIM_OUTBOX_STATEMENT, claimedEvents, releaseOutbox, removeFromOutbox } from '../db/outbox.ts';
import { isConnectionError } from '../db/pg.ts';
import type { SqlDatabase } from '../db/session.ts';
import { insertTelemetryStatements, writeCounts } from '../db/telemetryStore.ts';
import { derive } from '../derive.ts';
import type { DerivedEvent } from '../events.ts';
import { compareSequence, mergeBatch, rawRows, type MergedRow, type SequencedRecord } from '../merge.ts';
import { QueuePublishError, sendMessages } from '../queue.ts';
import { decodeRecord, type TimeWindow } from '../record.ts';
import { pause, type BackoffOptions } from '../retry.ts';
import type { RuleSet } from '../rules/ruleSet.ts';
import { deadLetterMessage } from './deadLetter.ts';
import type { StreamRecord } from './streamRecord.ts';

export interface IngestDeps {
  db: SqlDatabase;
  sqs: SQSClient;
  deadLetterQueueUrl: string;
  eventsQueueUrl: string;
  ruleSet: RuleSet;
  window: TimeWindow;
  /** merge: one row per (source, fact) per batch; raw: every valid record its own row. */
  mode: 'merge' | 'raw';
  now?: () => number;
  /** Time left in the invocation; database retries stop before it runs out. */
  remainingMs?: () => number;
  dbRetry?: BackoffOptions;
}

/** Every record of the batch lands in exactly one of these counters. */
export interface IngestReport {
  records: number;
  valid: number;
  invalid: number;
  /** Already committed by an earlier delivery of the same window (retry, bisect, partial response). */
  redelivered: number;
  /** Not processed now: at or after the first record the dead-letter queue refused; retried by Lambda. */
  deferred: number;
  mergedRows: number;
  inserted: number;
  duplicates: number;
  derivedEvents: number;
  published: number;
  timings: { decodeMs: number; writeMs: number; publishMs: number };
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

const DB_RETRY: BackoffOptions = { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 5_000 };
/** Stop retrying the database when less than this is left, so the invocation fails cleanly. */
const SAFETY_MS = 5_000;

export async function ingestBatch(batch: readonly StreamRecord[], deps: IngestDeps): Promise<IngestReport> {
  const now = deps.now ?? Date.now;
  const t0 = performance.now();
  const decoded = batch.map((r) => ({ r, d: decodeRecord(r.data, now(), deps.window) }));
  const t1 = performance.now();

  // One transaction, few round trips: BEGIN + every read in one message, then the writes packed
  // into messages under 16 KB, the last of which also claims the outbox.
  const written = await withDatabaseRetry(deps, () =>
    deps.db.transaction(async (tx) => {
      const sources = [...new Set(decoded.flatMap(({ d }) => (d.ok ? [d.record.source] : [])))];
      const batchHighest = highestPositions(batch);
      const [checkpointRows = [], ...stateRows] = await tx.batch([loadCheckpointsStatement(batchHighest), ...loadStatesStatements(sources)]);
      const committed = parseCheckpoints(checkpointRows);
      const fresh = decoded.filter(({ r }) => !isAlreadyCommitted(r, committed));
      const invalid = fresh.flatMap(({ r, d }) => (d.ok ? [] : [deadLetterMessage(r, d.error, now())]));
      const cut = await deadLetter(deps, invalid);
      const accepted = cut === undefined ? fresh : fresh.filter(({ r }) => compareSequence(r.sequenceNumber, cut) < 0);
      const valid: SequencedRecord[] = accepted.flatMap(({ r, d }) =>
        d.ok ? [{ record: d.record, tsMs: d.tsMs, sequenceNumber: r.sequenceNumber }] : [],
      );
      const rows: MergedRow[] = deps.mode === 'raw' ? rawRows(valid) : mergeBatch(valid);
      const { events, changes } = derive(rows, parseSourceStates(sources, stateRows), deps.ruleSet);
      const inserts = insertTelemetryStatements(rows);
      const advance = advanceCheckpointsStatement(accepted.length === batch.length ? batchHighest : highestPositions(accepted.map(({ r }) => r)));
      const results = await tx.batch([
        ...inserts,
        ...saveStateStatements(changes),
        ...addToOutboxStatements(events),
        ...(advance ? [advance] : []),
        CLAIM_OUTBOX_STATEMENT,
      ]);
      return {
        fresh: fresh.length,
        accepted: accepted.length,
        valid: valid.length,
        rows: rows.length,
        counts: writeCounts(rows, results.slice(0, inserts.length)),
        events: events.length,
        claimed: claimedEvents(results.at(-1) ?? []),
        cut,
      };
    }),
  );
  const t2 = performance.now();
  const published = await publishOutbox(deps, written.claimed);
  const t3 = performance.now();

  return {
    records: batch.length,
    valid: written.valid,
    invalid: written.accepted - written.valid,
    redelivered: batch.length - written.fresh,
    deferred: written.fresh - written.accepted,
    mergedRows: written.rows,
    inserted: written.counts.inserted,
    duplicates: written.counts.duplicates,
    derivedEvents: written.events,
    published,
    timings: { decodeMs: t1 - t0, writeMs: t2 - t1, publishMs: t3 - t2 },
    batchItemFailures: written.cut === undefined ? [] : [{ itemIdentifier: written.cut }],
  };
}

/**
 * Sends invalid records to the dead-letter queue. If some are refused, returns the lowest refused
 * sequence number: only records before it are committed, and it becomes the partial-batch failure
 * from which Lambda redelivers. Nothing is acknowledged that is neither written nor dead-lettered.
 */
async function deadLetter(deps: IngestDeps, messages: ReturnType<typeof deadLetterMessage>[]): Promise<string | undefined> {
  if (messages.length === 0) return undefined;
  try {
    await sendMessages(deps.sqs, deps.deadLetterQueueUrl, messages);
    return undefined;
  } catch (e) {
    if (!(e instanceof QueuePublishError)) throw e;
    return [...e.failedIds].sort(compareSequence)[0];
  }
}

/**
 * Publishes the events claimed at commit (this batch's and any left over), then deletes them. On a
 * queue failure the claims are released and the error propagates, so Lambda retries the batch; the
 * redelivered records are skipped by the checkpoint and only the publish is repeated.
 */
async function publishOutbox(deps: IngestDeps, events: readonly DerivedEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const ids = events.map((e) => e.id);
  try {
    await sendMessages(deps.sqs, deps.eventsQueueUrl, events.map((e) => ({ id: e.id, body: JSON.stringify(e) })));
  } catch (e) {
    await releaseOutbox(deps.db, ids);
    throw e;
  }
  await withDatabaseRetry(deps, () => removeFromOutbox(deps.db, ids));
  return events.length;
}

/** Retries on a lost or refused connection with backoff, inside the invocation's time budget. */
async function withDatabaseRetry<T>(deps: IngestDeps, op: () => Promise<T>): Promise<T> {
  const backoff = deps.dbRetry ?? DB_RETRY;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const budgetLeft = (deps.remainingMs?.() ?? Infinity) > SAFETY_MS + backoff.maxDelayMs;
      if (!isConnectionError(e) || attempt + 1 >= backoff.maxAttempts || !budgetLeft) throw e;
      await pause(attempt + 1, backoff);
    }
  }
}
