import type { SQSClient } from '@aws-sdk/client-sqs';
import { watchTaken } from '../chunks.ts';
import { highestPositions, isAlreadyCommitted, type StreamPosition } from '../db/checkpointStore.ts';
import type { OutboxMessage } from '../db/outbox.ts';
import { isConnectionError, isRetryableTransactionError } from '../db/pg.ts';
import { derive } from '../derive.ts';
import { liveFeed, type LiveBatch } from '../liveFeed.ts';
import { mergeReadings, rawRows, type MergedRow } from '../merge.ts';
import { publishOnCommit, type OutboxQueues, type PublishOutcome } from '../outboxPublisher.ts';
import { sourceOfSeries } from '../reading.ts';
import { NAME_PATTERN, type TimeWindow } from '../record.ts';
import { DEFAULT_BACKOFF, pause, type BackoffOptions } from '../retry.ts';
import type { RuleSet } from '../rules/ruleSet.ts';
import { deadLetter } from './deadLetter.ts';
import { BatchDecoder, resolve, Screener, type Classified, type DecodedBatch } from './plan.ts';
import type { Readings } from './readings.ts';
import type { IngestStore, IngestTransaction, LoadedState, LookupResult } from './store.ts';
import type { StreamRecord } from './streamRecord.ts';

export interface IngestDeps {
  store: IngestStore;
  sqs: SQSClient;
  queues: OutboxQueues;
  ruleSet: RuleSet;
  window: TimeWindow;
  /** merge: one row per (source, fact, minute) per batch; raw: every reading its own row. */
  mode: 'merge' | 'raw';
  /** Raw mode: readings per COPY chunk (ROW_CHUNK); the tests set a few to cross chunk edges often. */
  rowChunk?: number;
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
// A unique violation on telemetry_events means rows the sources' state does not know of (written
// around ingest, or the state restored from an older copy): the rerun looks up every reading, so
// the stored ones count as duplicates or conflicts and the rest are written.
const isUniqueViolation = (e: unknown): boolean => (e as { code?: string }).code === '23505';

export async function ingestBatch(batch: readonly StreamRecord[], deps: IngestDeps): Promise<IngestReport> {
  const now = deps.now ?? Date.now;
  const positions = highestPositions(batch);
  // Read once, as the first attempt's transaction needs it; a retry finds it read.
  const decoder = new BatchDecoder(batch, now(), deps.window, deps.mode === 'raw');
  const t1 = performance.now();
  const outcome = await withDatabaseRetry(deps, (failures) => deps.store.transaction((tx) => planAndCommit(tx, positions, decoder, deps, now(), failures.some(isUniqueViolation))));
  liveFeed.publish(outcome.live);
  const t2 = performance.now();
  const published = await outcome.publishing;
  const t3 = performance.now();
  const { publishing: _, live: _live, ...counts } = outcome;
  return {
    records: decoder.records,
    kinesisRecords: batch.length,
    ...counts,
    published: published.sent,
    publishFailed: published.failed,
    timings: { decodeMs: decoder.ms, writeMs: t2 - t1 - decoder.ms, publishMs: t3 - t2 },
  };
}

type Committed = Omit<IngestReport, 'records' | 'kinesisRecords' | 'published' | 'publishFailed' | 'timings'> & { publishing: Promise<PublishOutcome>; live: LiveBatch };

/** Raw mode's rows go to the database in chunks of this many readings, each as soon as it is decided. */
export const ROW_CHUNK = 1_000;

/** One transaction: lock and load, classify every record, look up only what must be, write. */
async function planAndCommit(
  tx: IngestTransaction,
  positions: readonly StreamPosition[],
  decoder: BatchDecoder,
  deps: IngestDeps,
  nowMs: number,
  lookUpAll: boolean,
): Promise<Committed> {
  // The database locks and reads the sources the partition keys name while the batch decodes.
  const named = sourcesNamedBy(positions);
  const loading = tx.load(named, positions);
  loading.catch(() => undefined);
  const raw = deps.mode === 'raw';
  const chunk = deps.rowChunk ?? ROW_CHUNK;
  const { readings } = decoder;
  decoder.readingsUpTo(raw ? chunk : Infinity);
  const loaded = await loading;
  const screener = new Screener(readings, lookUpAll);
  const rows: MergedRow[] = [];
  const parts: Classified[] = [];
  const inserts = new RowInserts(tx);
  /** Unique readings [0, resolved) of the screener are decided and their rows made. */
  let resolved = 0;
  const decide = (now: LoadedState, lookup?: LookupResult): Classified => {
    const part = resolve(screener, resolved, screener.uniqueCount, now, lookup);
    resolved = screener.uniqueCount;
    parts.push(part);
    return part;
  };

  if (raw) {
    // Raw mode: as long as the readings need nothing more from the database (their sources locked,
    // none at or below its series' newest stored reading), each chunk's rows go to the COPY as soon
    // as they are decided, and the database writes them while the function reads the next chunk.
    const locked = new Set(named.filter((s) => !loaded.newSources.includes(s)));
    const nextChunkIsClean = (): boolean => {
      const from = screener.screened;
      // At most a chunk: a retry finds the batch decoded, and a KPL aggregate gives many readings at once.
      const to = Math.min(from + chunk, decoder.readingsUpTo(from + chunk));
      if (to === from || !allSourcesIn(readings, from, to, locked)) return false;
      return screener.take(to, loaded) === 0;
    };
    if (nextChunkIsClean()) {
      await inserts.start(function* () {
        do {
          const made = rawRows(readings, decide(loaded).written);
          rows.push(...made);
          yield made;
        } while (nextChunkIsClean());
      });
    }
  }

  // The rest (all of a merge batch) whole: sources that no partition key named are locked, new ones
  // created, and candidates looked up, in round trips behind the COPY so far. A failed COPY is the
  // error to report: the rest's statements only fail after it because the transaction has.
  const all = await inserts.orFailure(withSourcesOf(decoder.all(), named, loaded, tx));
  screener.take(readings.length, all);
  const minutes = screener.minutes();
  const lookup = all.newSources.length > 0 || minutes.length > 0 ? await inserts.orFailure(tx.lookup(all.newSources, minutes)) : undefined;
  // The insert starts before the rows are made, so the COPY's handshake travels meanwhile; a batch
  // with no new reading has no insert.
  if (resolved < screener.uniqueCount) {
    await inserts.start(function* () {
      const { written } = decide(all, lookup);
      if (!raw) {
        rows.push(...mergeReadings(readings, written));
        yield rows;
        return;
      }
      for (let k = 0; k < written.length; k += chunk) {
        const made = rawRows(readings, written.subarray(k, k + chunk));
        rows.push(...made);
        yield made;
      }
    });
  }

  // The derivation is synchronous: it runs once the rows are on their way, while the database writes them.
  const states = new Map([...all.states, ...(lookup?.states ?? [])]);
  const { events, changes } = derive(rows, states, deps.ruleSet);
  const rejected = [...decoder.rejected, ...screener.rejected, ...parts.flatMap((p) => p.rejected)];
  const duplicates = [...screener.duplicates, ...parts.flatMap((p) => p.duplicates)];
  const deadLetters = rejected.map((r) => ({ ...deadLetter(r.stream, r.reason, r.detail, nowMs, r.sub), conflict: r.reason === 'identity_conflict' }));
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
  const [inserted, result] = await Promise.all([inserts.inserted(), committing]);
  if (inserted !== rows.length) throw new Error(`inserted ${inserted} of ${rows.length} rows`);

  const added = deadLetters.filter((d) => result.added.has(d.key));
  // Duplicates at or below the committed position are Lambda's redelivery, not a producer's resend.
  const redeliveredReadings = duplicates.filter((i) => isAlreadyCommitted(readings.stream[i]!, loaded.checkpoints)).length;
  return {
    written: parts.reduce((n, p) => n + p.written.length, 0),
    late: parts.reduce((n, p) => n + p.late, 0),
    duplicates: duplicates.length - redeliveredReadings,
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

/**
 * A transaction's COPYs of rows (raw mode: the chunks decided before a round trip, and those
 * after). `start` resolves once the chunks are made and on their way, or the insert has failed.
 */
class RowInserts {
  private readonly inserts: Array<Promise<number>> = [];
  /** Each insert's error; pending for good once it succeeded, so that it only ever loses a race. */
  private readonly failures: Array<Promise<never>> = [];

  constructor(private readonly tx: IngestTransaction) {}

  start(rows: () => Iterable<MergedRow[]>): Promise<void> {
    const { chunks, allTaken } = watchTaken(rows());
    const inserting = this.tx.insertRows(chunks);
    inserting.catch(() => undefined);
    this.inserts.push(inserting);
    const failed = inserting.then(() => new Promise<never>(() => undefined));
    failed.catch(() => undefined);
    this.failures.push(failed);
    return Promise.race([allTaken, failed]);
  }

  /** `work`, or the error of an insert that fails first. */
  orFailure<T>(work: Promise<T>): Promise<T> {
    return this.failures.length > 0 ? Promise.race([work, ...this.failures]) : work;
  }

  async inserted(): Promise<number> {
    return (await Promise.all(this.inserts)).reduce((n, k) => n + k, 0);
  }
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

/** Whether every reading in [from, to) is of one of `sources`. */
function allSourcesIn(readings: Readings, from: number, to: number, sources: ReadonlySet<string>): boolean {
  const checked = new Set<string>();
  for (let i = from; i < to; i++) {
    const series = readings.series[i]!;
    if (checked.has(series)) continue;
    if (!sources.has(sourceOfSeries(series))) return false;
    checked.add(series);
  }
  return true;
}

/**
 * Retries a lost connection, a deadlock, a serialization failure or a unique violation with
 * backoff, inside the time budget; `op` gets the failures so far (after a unique violation, every
 * later attempt looks up every reading).
 */
async function withDatabaseRetry<T>(deps: IngestDeps, op: (failures: readonly unknown[]) => Promise<T>): Promise<T> {
  const backoff = { ...(deps.dbRetry ?? DB_RETRY), ...(deps.remainingMs ? { remainingMs: deps.remainingMs } : {}) };
  const failures: unknown[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(failures);
    } catch (e) {
      failures.push(e);
      const retryable = isConnectionError(e) || isRetryableTransactionError(e) || isUniqueViolation(e);
      if (!retryable || attempt + 1 >= backoff.maxAttempts || !(await pause(attempt + 1, backoff))) throw e;
    }
  }
}
