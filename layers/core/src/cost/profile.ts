import type { IngestProfile } from './model.ts';

/**
 * Used when no bench result is at hand: merge mode on 10,000-record batches, `npm run bench` on a
 * 2-core development machine (see docs/performance.md). CPU per record covers decode, validation,
 * merge and glue; the per-batch part is the SQL round trips on loopback, derive and publish.
 */
export const DEFAULT_INGEST_PROFILE: IngestProfile = {
  perRecordMs: 0.004,
  perBatchMs: 25,
  statementsPerBatch: 15,
  derivedEventsPerRecord: 0.0003,
  source: 'built-in default (docs/performance.md)',
};

/** The part of `npm run bench --json` this module reads. */
export interface BenchIngestSummary {
  meta?: { date?: string };
  ingest?: {
    batchSize: number;
    merge: {
      ms: { decode: number; validation: number; merge: number; sql: number; derive: number; publish: number; other: number };
      statementsPerBatch: number;
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
  const { ms, statementsPerBatch, derivedEventsPerBatch } = ingest.merge;
  const parts = [ms.decode, ms.validation, ms.merge, ms.sql, ms.derive, ms.publish, ms.other, statementsPerBatch];
  if (parts.some((p) => typeof p !== 'number' || !Number.isFinite(p) || p < 0)) {
    throw new BenchProfileError(`${source}: ingest.merge timings are incomplete`);
  }
  return {
    perRecordMs: (ms.decode + ms.validation + ms.merge + ms.other) / ingest.batchSize,
    perBatchMs: ms.sql + ms.derive + ms.publish,
    statementsPerBatch,
    derivedEventsPerRecord: (derivedEventsPerBatch ?? 0) / ingest.batchSize,
    source: `${source}${bench.meta?.date ? ` (${bench.meta.date})` : ''}`,
  };
}
