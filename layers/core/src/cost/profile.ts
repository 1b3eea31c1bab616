import type { IngestProfile } from './model.ts';

/**
 * Used when no bench result is at hand: merge mode on 10,000-record batches, `npm run bench` of
 * 2026-11-22 on a 2-core development machine (docs/performance.md). CPU per record covers decode,
 * validation, merge, checkpoint bookkeeping and statement building; the per-batch part is the SQL
 * round trips on loopback, derive and publish.
 */
export const DEFAULT_INGEST_PROFILE: IngestProfile = {
  perRecordMs: 0.0041,
  perBatchMs: 32,
  roundTripsPerBatch: 4,
  derivedEventsPerRecord: 0.0046,
  source: 'built-in default (npm run bench of 2026-11-22, docs/performance.md)',
};

/** The part of `npm run bench --json` this module reads. */
export interface BenchIngestSummary {
  meta?: { date?: string };
  ingest?: {
    batchSize: number;
    merge: {
      /** `statements` (client-side statement building) is absent from results before it was measured. */
      ms: { decode: number; validation: number; merge: number; sql: number; statements?: number; derive: number; publish: number; other: number };
      statementsPerBatch: number;
      /** Absent from results before round trips were counted: then every statement counts as one. */
      roundTripsPerBatch?: number;
      derivedEventsPerBatch?: number;
    };
  };
}

export class BenchProfileError extends Error {
  override readonly name = 'BenchProfileError';
}

/** Splits a measured merge-mode batch into the part that grows per record and the part per batch. */
export function profileFromBench(bench: BenchIngestSummary, source: string): IngestProfile {
  const ingest = bench.ingest;
  if (!ingest || !(ingest.batchSize > 0)) throw new BenchProfileError(`${source} holds no ingest result`);
  const { ms, statementsPerBatch, roundTripsPerBatch, derivedEventsPerBatch } = ingest.merge;
  const building = ms.statements ?? 0;
  const parts = [ms.decode, ms.validation, ms.merge, ms.sql, building, ms.derive, ms.publish, ms.other, statementsPerBatch, roundTripsPerBatch ?? statementsPerBatch];
  if (parts.some((p) => typeof p !== 'number' || !Number.isFinite(p) || p < 0)) {
    throw new BenchProfileError(`${source}: ingest.merge timings are incomplete`);
  }
  return {
    // Statement building is mostly checkpoint bookkeeping over every record of the batch.
    perRecordMs: (ms.decode + ms.validation + ms.merge + building + ms.other) / ingest.batchSize,
    perBatchMs: ms.sql + ms.derive + ms.publish,
    roundTripsPerBatch: roundTripsPerBatch ?? statementsPerBatch,
    derivedEventsPerRecord: (derivedEventsPerBatch ?? 0) / ingest.batchSize,
    source: `${source}${bench.meta?.date ? ` (${bench.meta.date})` : ''}`,
  };
}
