import type { StreamPosition } from './checkpointStore.ts';
import { advanceCheckpointsStatement, loadCheckpointsStatement, parseCheckpoints } from './checkpointStore.ts';
import { createSourcesStatement, loadStatesStatements, lockedSources, lockSourcesStatement, parseSourceStates, saveStateStatements } from './derivedStateStore.ts';
import type { CommitPlan, CommitResult, IngestStore, IngestTransaction, LoadedSources, LoadedState, LookupResult, MinuteLookup } from '../ingest/store.ts';
import { addedIds, addToOutboxStatements, CLAIM_OUTBOX_STATEMENT, claimedMessages, markSent, OUTBOX_STATUS_STATEMENT, outboxStatus, releaseClaims } from './outbox.ts';
import type { Rows, SqlDatabase, SqlSession, SqlTransaction } from './session.ts';
import { TELEMETRY_COPY, telemetryCopyChunks } from './telemetryCopy.ts';
import { lookupIdentitiesStatements, parseIdentities } from './telemetryStore.ts';

// The oldest event time still folded into every aggregate (migration 0007): older readings would
// land in a range retention dropped, or one no aggregate refresh reaches again.
const INGEST_HORIZON_STATEMENT = `SELECT (extract(epoch FROM warehouse_ingest_horizon()) * 1000000)::int8 AS horizon_us,
  (SELECT keep_days FROM warehouse_retention WHERE grain = 'raw') AS keep_days`;

/**
 * The ingest store on PostgreSQL, in few round trips through the simple protocol (RDS Proxy keeps
 * multiplexing): BEGIN and every read in one message; the identity lookup in a second one only
 * when the batch has new sources or readings at or below their series' newest; the rows by COPY, in
 * chunks as they are made;
 * then the state, outbox and checkpoint writes and the outbox claim, packed into messages under 16 KB,
 * COMMIT in the last.
 */
export function pgIngestStore(db: SqlDatabase): IngestStore {
  return {
    transaction: (work) => db.transaction((tx) => work(ingestTransaction(tx))),
    markSent: (messages) => markSent(db, messages),
    releaseClaims: (messages) => releaseClaims(db, messages),
  };
}

/** Locks the sources that have a row and reads their state, with `more` statements in the same round trip. */
async function loadSources(tx: SqlSession, sources: readonly string[], more: readonly string[] = []): Promise<{ loaded: LoadedSources; more: Rows[] }> {
  const lock = sources.length > 0 ? [lockSourcesStatement(sources)] : [];
  const states = loadStatesStatements(sources);
  const results = await tx.batch([...lock, ...states, ...more]);
  const locked = lockedSources(lock.length > 0 ? (results[0] ?? []) : []);
  const parsed = parseSourceStates(
    sources.filter((s) => locked.has(s)),
    results.slice(lock.length, lock.length + states.length),
  );
  return { loaded: { ...parsed, newSources: sources.filter((s) => !locked.has(s)) }, more: results.slice(lock.length + states.length) };
}

function ingestTransaction(tx: SqlTransaction): IngestTransaction {
  return {
    async load(sources: readonly string[], positions: readonly StreamPosition[]): Promise<LoadedState> {
      const { loaded, more } = await loadSources(tx, sources, [loadCheckpointsStatement(positions), INGEST_HORIZON_STATEMENT]);
      const horizon = more[1]?.[0] as { horizon_us: number | null; keep_days: number | null } | undefined;
      return {
        ...loaded,
        checkpoints: parseCheckpoints(more[0] ?? []),
        horizon: { us: horizon?.horizon_us ?? null, rawRetentionDays: horizon?.keep_days ?? null },
      };
    },

    loadSources: async (sources) => (await loadSources(tx, sources)).loaded,

    async lookup(newSources: readonly string[], minutes: readonly MinuteLookup[]): Promise<LookupResult> {
      const sourceStatements = newSources.length > 0 ? [createSourcesStatement(newSources), lockSourcesStatement(newSources), ...loadStatesStatements(newSources)] : [];
      const results = await tx.batch([...sourceStatements, ...lookupIdentitiesStatements(minutes)]);
      return {
        ...parseSourceStates(newSources, results.slice(2, sourceStatements.length)),
        stored: parseIdentities(results.slice(sourceStatements.length)),
      };
    },

    async insertRows(rows) {
      let count = 0;
      const counted = async function* () {
        for await (const chunk of rows) {
          count += chunk.length;
          yield chunk;
        }
      };
      await tx.copyFrom(TELEMETRY_COPY, telemetryCopyChunks(counted()));
      return count;
    },

    async commit(plan: CommitPlan): Promise<CommitResult> {
      const saves = saveStateStatements(plan.changes);
      const outbox = addToOutboxStatements(plan.outbox);
      const advance = advanceCheckpointsStatement(plan.checkpoints);
      const results = await tx.batchAndCommit([...saves, ...outbox, ...(advance ? [advance] : []), OUTBOX_STATUS_STATEMENT, CLAIM_OUTBOX_STATEMENT]);
      return {
        added: addedIds(results.slice(saves.length, saves.length + outbox.length)),
        outbox: outboxStatus(results.at(-2) ?? []),
        claimed: claimedMessages(results.at(-1) ?? []),
      };
    },
  };
}
