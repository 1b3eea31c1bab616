import type { SQSClient } from '@aws-sdk/client-sqs';
import { highestPositions, isAlreadyCommitted, type StreamPosition } from '../db/checkpointStore.ts';
import type { OutboxMessage } from '../db/outbox.ts';
import { isConnectionError, isRetryableTransactionError } from '../db/pg.ts';
import { derive } from '../derive.ts';
import { liveFeed, type LiveBatch } from '../liveFeed.ts';
import { mergeReadings, rawRows } from '../merge.ts';
import { publishOnCommit, type OutboxQueues, type PublishOutcome } from '../outboxPublisher.ts';
import { NAME_PATTERN, type TimeWindow } from '../record.ts';
import { DEFAULT_BACKOFF, pause, type BackoffOptions } from '../retry.ts';
import type { RuleSet } from '../rules/ruleSet.ts';
import { deadLetter } from './deadLetter.ts';
import { decodeBatch, resolve, screen, type DecodedBatch } from './plan.ts';
import type { IngestStore, IngestTransaction, LoadedState } from './store.ts';
import type { StreamRecord } from './streamRecord.ts';

export interface IngestDeps {
  store: IngestStore;
  sqs: SQSClient;
  queues: OutboxQueues;
  ruleSet: RuleSet;
  window: TimeWindow;
  /** merge: one row per (source, fact, minute) per batch; raw: every reading its own row. */
  mode: 'merge' | 'raw';
  now?: () => number;
  /** Time left in the invocation: no retry waits past it (retry.ts). */
  remainingMs?: () => number;
  dbRetry?: BackoffOptions;
  sendRetry?: BackoffOptions;
}

/** Every record of the batch lands in exactly one of written, duplicates, redelivered, deadLettered. */
export interface IngestReport {
  /** Records after unpacking KPL aggregates (a corrupt aggregate is one). */
  records: number;
  kinesisRecords: number;
  /** Distinct readings stored (in merged rows, or as raw rows). */
  written: number;
  /** Of written: older than the newest reading stored for their series (late or reordered). */
  late: number;
  /** Producer resends of a stored reading, or of one earlier in the batch. */
  duplicates: number;
  /** Records Lambda delivered again after they were committed (retry, bisect, partial response). */
  redelivered: number;
  /** Dead-letter entries added (each stream record once, however often delivered). */
  deadLettered: number;
  /** Of deadLettered: readings whose identity is stored with a different id or value. */
  conflicts: number;
  rows: number;
  derivedEvents: number;
  /** Outbox messages sent after the commit (this batch's and any left over) and those left for later. */
  published: number;
  publishFailed: number;
  outboxPending: number;
  outboxOldestAgeSeconds: number;
  timings: { decodeMs: number; writeMs: number; publishMs: number };
}

const DB_RETRY: BackoffOptions = { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 5_000 };
// A unique violation on telemetry_events cannot happen under the sources' locks; if a race ever
// slips past them, the rerun sees the other batch's rows and counts its own as duplicates.
const isUniqueViolation = (e: unknown): boolean => (e as { code?: string }).code === '23505';

export async function ingestBatch(batch: readonly StreamRecord[], deps: IngestDeps): Promise<IngestReport> {
  const now = deps.now ?? Date.now;
  const positions = highestPositions(batch);
  let decoded: DecodedBatch | undefined;
  let decodeMs = 0;
  // Once, in the first attempt's transaction, while the load is on its way (planAndCommit).
  const decode = (): DecodedBatch => {
    if (decoded) return decoded;
    const t = performance.now();
    decoded = decodeBatch(batch, now(), deps.window, deps.mode === 'raw');
    decodeMs = performance.now() - t;
    return decoded;
  };
  const t1 = performance.now();
  const outcome = await withDatabaseRetry(deps, () => deps.store.transaction((tx) => planAndCommit(tx, positions, decode, deps, now())));
  liveFeed.publish(outcome.live);
  const t2 = performance.now();
  const published = await outcome.publishing;
  const t3 = performance.now();
  const { publishing: _, live: _live, ...counts } = outcome;
  return {
    records: decode().records,
    kinesisRecords: batch.length,
    ...counts,
    published: published.sent,
    publishFailed: published.failed,
    timings: { decodeMs, writeMs: t2 - t1 - decodeMs, publishMs: t3 - t2 },
  };
}

type Committed = Omit<IngestReport, 'records' | 'kinesisRecords' | 'published' | 'publishFailed' | 'timings'> & { publishing: Promise<PublishOutcome>; live: LiveBatch };

/** One transaction: lock and load, classify every record, look up only what must be, write. */
async function planAndCommit(tx: IngestTransaction, positions: readonly StreamPosition[], decode: () => DecodedBatch, deps: IngestDeps, nowMs: number): Promise<Committed> {
  // The database locks and reads the sources the partition keys name while the batch decodes.
  const named = sourcesNamedBy(positions);
  const loading = tx.load(named, positions);
  loading.catch(() => undefined);
  const decoded = decode();
  const loaded = await withSourcesOf(decoded, named, await loading, tx);
  const screened = screen(decoded, loaded);
  const lookup = loaded.newSources.length > 0 || screened.lookups.length > 0 ? await tx.lookup(loaded.newSources, screened.lookups) : undefined;

  // The insert starts before the rows are made (in the next microtask), so the COPY's handshake
  // travels meanwhile; a batch with no new reading has no insert. The database writes the rows
  // while the derivation runs here; a failure still fails the batch. The derivation is synchronous:
  // it starts once the rows are on their way, or the data would wait for it behind the handshake.
  const made = Promise.resolve().then(() => {
    const classified = resolve(screened, loaded, lookup);
    return { classified, rows: deps.mode === 'raw' ? rawRows(classified.readings, classified.written) : mergeReadings(classified.readings, classified.written) };
  });
  let sent!: () => void;
  const onTheirWay = new Promise<void>((resolve) => (sent = resolve));
  const inserting =
    screened.unique.length > 0
      ? tx.insertRows(
          made.then((m) => m.rows),
          sent,
        )
      : Promise.resolve(0);
  inserting.catch(() => undefined);
  const { classified, rows } = await made;
  await Promise.race([onTheirWay, inserting]);
  const states = new Map([...loaded.states, ...(lookup?.states ?? [])]);
  const { events, changes } = derive(rows, states, deps.ruleSet);
  const deadLetters = classified.rejected.map((r) => ({ ...deadLetter(r.stream, r.reason, r.detail, nowMs, r.sub), conflict: r.reason === 'identity_conflict' }));
  const outbox = [
    ...events.map((e): OutboxMessage => ({ destination: 'events', id: e.id, body: JSON.stringify(e) })),
    ...deadLetters.map((d): OutboxMessage => ({ destination: 'ingest-dlq', id: d.key, body: d.body })),
  ];
  const committing = tx.commit({ changes, outbox, checkpoints: positions });
  // Made and signed while COMMIT travels; sent once it is in, never before.
  const sendRetry = { ...(deps.sendRetry ?? DEFAULT_BACKOFF), ...(deps.remainingMs ? { remainingMs: deps.remainingMs } : {}) };
  const publishing = publishOnCommit(
    deps.store,
    deps.sqs,
    deps.queues,
    outbox,
    committing.then((c) => c.claimed),
    sendRetry,
  );
  publishing.catch(() => undefined);
  const [inserted, result] = await Promise.all([inserting, committing]);
  if (inserted !== rows.length) throw new Error(`inserted ${inserted} of ${rows.length} rows`);

  const added = deadLetters.filter((d) => result.added.has(d.key));
  // Duplicates at or below the committed position are Lambda's redelivery, not a producer's resend.
  const redeliveredReadings = classified.duplicates.filter((i) => isAlreadyCommitted(classified.readings.stream[i]!, loaded.checkpoints)).length;
  return {
    written: classified.written.length,
    late: classified.late,
    duplicates: classified.duplicates.length - redeliveredReadings,
    redelivered: redeliveredReadings + deadLetters.length - added.length,
    deadLettered: added.length,
    conflicts: added.filter((d) => d.conflict).length,
    rows: rows.length,
    derivedEvents: events.length,
    outboxPending: result.outbox.pending,
    outboxOldestAgeSeconds: result.outbox.oldestAgeSeconds,
    publishing,
    live: { rows, events },
  };
}

/** Beyond this many partition keys a batch's keys are not taken for its sources (a producer keys by something else). */
const MAX_NAMED_SOURCES = 200;

/**
 * The sources a batch's partition keys name, when they look like sources: producers key records
 * by source (the simulator does), so these are the batch's sources, known before it is decoded.
 */
function sourcesNamedBy(positions: readonly StreamPosition[]): string[] {
  const keys = new Set(positions.map((p) => p.partitionKey));
  if (keys.size > MAX_NAMED_SOURCES) return [];
  return [...keys].filter((k) => NAME_PATTERN.test(k)).sort();
}

/**
 * The load completed with the batch's sources that no partition key named (locked and read in a
 * round trip of their own), and with new sources limited to the batch's: a key that names no
 * reading's source gets no row.
 */
async function withSourcesOf(decoded: DecodedBatch, named: readonly string[], loaded: LoadedState, tx: IngestTransaction): Promise<LoadedState> {
  const sources = decoded.readings.sources();
  const wasNamed = new Set(named);
  const unnamed = [...sources].filter((s) => !wasNamed.has(s)).sort();
  const more = unnamed.length > 0 ? await tx.loadSources(unnamed) : undefined;
  return {
    ...loaded,
    states: more ? new Map([...loaded.states, ...more.states]) : loaded.states,
    newest: more ? new Map([...loaded.newest, ...more.newest]) : loaded.newest,
    newSources: [...loaded.newSources.filter((s) => sources.has(s)), ...(more?.newSources ?? [])].sort(),
  };
}

/** Retries a lost connection, a deadlock or a serialization failure with backoff, inside the time budget. */
async function withDatabaseRetry<T>(deps: IngestDeps, op: () => Promise<T>): Promise<T> {
  const backoff = { ...(deps.dbRetry ?? DB_RETRY), ...(deps.remainingMs ? { remainingMs: deps.remainingMs } : {}) };
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const retryable = isConnectionError(e) || isRetryableTransactionError(e) || isUniqueViolation(e);
      if (!retryable || attempt + 1 >= backoff.maxAttempts || !(await pause(attempt + 1, backoff))) throw e;
    }
  }
}
