import type { Committed, StreamPosition } from '../db/checkpointStore.ts';
import type { OutboxMessage, OutboxStatus } from '../db/outbox.ts';
import type { SourceState, StateChanges } from '../derive.ts';
import type { MergedRow } from '../merge.ts';

/**
 * What ingest needs from storage, as one transaction in three steps: load (and lock) the state of
 * the batch's series, look up the identities stored where the batch has resent or late readings,
 * commit the plan. PostgreSQL implements it (db/pgIngestStore.ts); tests also use an in-memory
 * fake, so every accounting rule is checked in milliseconds.
 */
export interface IngestStore {
  /**
   * Runs `work` in one transaction: all or nothing. Rethrows what `work` throws, after rollback.
   * The sources that `load` and `lookup` lock stay locked until the transaction ends.
   */
  transaction<T>(work: (tx: IngestTransaction) => Promise<T>): Promise<T>;
  /** After commit: the messages the queues accepted, and those to offer again at once. */
  markSent(messages: readonly OutboxMessage[]): Promise<void>;
  releaseClaims(messages: readonly OutboxMessage[]): Promise<void>;
}

/** A minute of one series where the batch has readings at or below the series' newest stored one. */
export interface MinuteLookup {
  source: string;
  fact: string;
  minuteUs: number;
  /** The lowest and highest candidate event time in the minute (single-sample rows are fetched only in between). */
  loUs: number;
  hiUs: number;
}

export interface SourceStates {
  /** Fact base, active rules and EMA series per source, read after the source was locked. */
  states: Map<string, SourceState>;
  /** Newest stored event time (microseconds) per series key (seriesKey); absent: never stored. */
  newest: Map<string, number>;
}

export interface LoadedSources extends SourceStates {
  /** Of the sources asked for, those seen for the first time: not locked yet, their state comes with the lookup. */
  newSources: string[];
}

export interface LoadedState extends LoadedSources {
  checkpoints: Committed;
  /**
   * Readings older than `us` (epoch microseconds) are not stored: retention dropped their range, or
   * no aggregate refresh reaches it again (warehouse_ingest_horizon). null: no such limit.
   */
  horizon: { us: number | null; rawRetentionDays: number | null };
}

/** Stored identities per minute key (`${seriesKey}\u0000${minuteUs}`): microsecond offset -> fingerprint. */
export type StoredIdentities = Map<string, Map<number, number>>;

/** `states` and `newest` of the new sources only: a concurrent batch may have created them meanwhile. */
export interface LookupResult extends SourceStates {
  stored: StoredIdentities;
}

export interface CommitPlan {
  changes: StateChanges;
  /** Derived events and dead letters; each added only if its (destination, id) is new. */
  outbox: readonly OutboxMessage[];
  /** The batch's highest position per (shard, partition key). */
  checkpoints: readonly StreamPosition[];
}

export interface CommitResult {
  /** Outbox ids this commit added (a dead letter already there was dead-lettered before). */
  added: Set<string>;
  /** Unsent messages claimed for sending: this batch's and any left over. */
  claimed: OutboxMessage[];
  outbox: OutboxStatus;
}

export interface IngestTransaction {
  /** Locks the sources that have a row and reads their state, the checkpoints and the raw retention. */
  load(sources: readonly string[], positions: readonly StreamPosition[]): Promise<LoadedState>;
  /** Locks and reads more sources as `load` does (those of the batch that `load` was not given). */
  loadSources(sources: readonly string[]): Promise<LoadedSources>;
  /** Creates and locks `newSources` and reads their state, then the identities stored in `minutes`. */
  lookup(newSources: readonly string[], minutes: readonly MinuteLookup[]): Promise<LookupResult>;
  /**
   * Inserts the rows (every one new), chunk by chunk as `rows` yields them, and resolves to their
   * number: the database writes a chunk while the function makes the next, and works on the last
   * while the function derives; `commit` runs after it. If `rows` throws, nothing is inserted and
   * the insert rejects with that error.
   */
  insertRows(rows: AsyncIterable<readonly MergedRow[]>): Promise<number>;
  commit(plan: CommitPlan): Promise<CommitResult>;
}
