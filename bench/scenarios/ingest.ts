import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { advanceCheckpointsStatement, highestPositions, loadCheckpointsStatement } from '#core/db/checkpointStore';
import { loadStatesStatements, parseSourceStates, saveStateStatements } from '#core/db/derivedStateStore';
import { addToOutboxStatements } from '#core/db/outbox';
import { pgIngestStore } from '#core/db/pgIngestStore';
import type { SqlDatabase, SqlSession } from '#core/db/session';
import { insertTelemetryStatements } from '#core/db/telemetryStore';
import { derive, type Derivation } from '#core/derive';
import { ingestBatch, type IngestDeps } from '#core/ingest/ingestBatch';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { mergeReadings, rawRows, type MergedRow } from '#core/merge';
import type { Reading } from '#core/reading';
import { decodeRecord, instantMicros, TelemetryRecordSchema, type TelemetryRecord, type TimeWindow } from '#core/record';
import { breweryRuleSet } from '#core/rules/brewery';
import { COPY_COLUMNS, copyText } from '../lib/copyText.ts';
import { summarizeProfile, type FrameCost } from '../lib/cpuProfile.ts';
import { profile } from '../lib/profiler.ts';
import { median, pairedRatio, perSecond } from '../lib/stats.ts';
import type { BatchSource } from '../lib/syntheticBatches.ts';
import { emptySqlTimings, timedDatabase, totalSqlMs, type SqlTimings } from '../lib/timedDb.ts';

export interface IngestBenchOptions {
  db: SqlDatabase;
  databaseUrl: string;
  sqs: SQSClient;
  deadLetterQueueUrl: string;
  eventsQueueUrl: string;
  window: TimeWindow;
  batches: BatchSource;
  rounds: number;
  batchSize: number;
  mergeBatchesPerRound: number;
  baselineRecords: number;
  profile: boolean;
  progress: (line: string) => void;
}

/** One ingestBatch call, with the pure pieces re-timed on the same input right after it. */
export interface BatchSample {
  records: number;
  rows: number;
  totalMs: number;
  /** ingestBatch's own decode timer: base64 + UTF-8 + JSON.parse + validation + time window. */
  decodeMs: number;
  publishMs: number;
  /** base64 + UTF-8 + JSON.parse alone, on the same batch. */
  bareDecodeMs: number;
  mergeMs: number;
  deriveMs: number;
  /** The stores' client-side work (checkpoint keys, JSON rows, chunking, escaping), no round trips. */
  statementsMs: number;
  derivedEvents: number;
  sql: SqlTimings;
}

export interface Breakdown {
  decode: number;
  validation: number;
  merge: number;
  sql: number;
  derive: number;
  /** Building statements and checkpoint bookkeeping in JS. */
  statements: number;
  publish: number;
  other: number;
}

export interface ModeResult {
  recordsPerSec: number;
  rowsPerSec: number;
  msPerBatch: number;
  rowsPerBatch: number;
  /** Median ms per batch by component; `other` is what the named parts do not explain. */
  ms: Breakdown;
  sqlMs: SqlTimings['ms'];
  statementsPerBatch: number;
  /** Mean derived events (rule edges + anomalies) per batch. */
  derivedEventsPerBatch: number;
  perRoundPerSec: number[];
}

export interface IngestBenchResult {
  batchSize: number;
  rounds: number;
  ceilingA: { recordsPerSec: number; msPerBatch: number; perRoundPerSec: number[] };
  ceilingB: { rowsPerSec: number; msPerBatch: number; perRoundPerSec: number[] };
  baseline: { recordsPerSec: number; records: number; perRoundPerSec: number[] };
  merge: ModeResult;
  raw: ModeResult & {
    /** The telemetry INSERT alone (statement building + round trips) for the same rows. */
    insertOnlyMs: number;
    /** The state save of the batch's changes (derive emits one per key, the newest). */
    stateSaveMs: number;
    /** Projection, not shipped: the raw batch with its INSERT replaced by the measured COPY. */
    projectedWithCopyRowsPerSec: number;
  };
  ratios: {
    mergeVsCeilingA: number;
    rawVsCeilingB: number;
    mergeVsBaseline: number;
    projectedRawWithCopyVsCeilingB: number;
  };
  profiles?: { merge: FrameCost[]; raw: FrameCost[] };
}

/**
 * Ceiling A, ceiling B, the per-row baseline and tapline's merge and raw modes, interleaved round
 * by round so each ratio compares numbers taken under the same load on the machine. Event times
 * advance batch after batch across all scenarios, so every batch is new to the derived state.
 */
export async function runIngestBench(o: IngestBenchOptions): Promise<IngestBenchResult> {
  const admin = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
  admin.on('error', () => undefined);
  let sql = emptySqlTimings();
  const timed = timedDatabase(o.db, () => sql);
  const deps = (mode: 'merge' | 'raw'): IngestDeps => ({
    store: pgIngestStore(timed),
    sqs: o.sqs,
    queues: { events: o.eventsQueueUrl, 'ingest-dlq': o.deadLetterQueueUrl },
    ruleSet: breweryRuleSet,
    window: o.window,
    mode,
  });

  let lastDerivation: Derivation = { events: [], changes: { facts: [], rules: [], ema: [] } };
  const measure = async (records: StreamRecord[], mode: 'merge' | 'raw'): Promise<BatchSample> => {
    const valid = validRecords(records, o.window);
    const sources = [...new Set(valid.map((v) => v.record.source))];
    const { states } = parseSourceStates(sources, await o.db.transaction((tx) => tx.batch(loadStatesStatements(sources))));
    sql = emptySqlTimings();
    const t0 = performance.now();
    const report = await ingestBatch(records, deps(mode));
    const totalMs = performance.now() - t0;
    if (report.written !== records.length) throw new Error(`bench batch not ingested cleanly: ${JSON.stringify(report)}`);
    const bareDecodeMs = timeMs(() => bareDecode(records));
    let rows: MergedRow[] = [];
    const mergeMs = timeMs(() => (rows = mode === 'raw' ? rawRows(valid) : mergeReadings(valid)));
    let derived: Derivation = { events: [], changes: { facts: [], rules: [], ema: [] } };
    const deriveMs = timeMs(() => (derived = derive(rows, states, breweryRuleSet)));
    const statementsMs = await statementWork(records, rows, derived);
    lastDerivation = derived;
    return {
      records: records.length,
      rows: report.rows,
      totalMs,
      decodeMs: report.timings.decodeMs,
      publishMs: report.timings.publishMs,
      bareDecodeMs,
      mergeMs,
      deriveMs,
      statementsMs,
      derivedEvents: report.derivedEvents,
      sql,
    };
  };

  const truncate = () => admin.query('TRUNCATE telemetry_events');
  const copyRows = async (rows: readonly MergedRow[]): Promise<number> => {
    const text = copyText(rows);
    const client = await admin.connect();
    try {
      const t0 = performance.now();
      await pipeline(Readable.from([text]), client.query(copyFrom(`COPY telemetry_events ${COPY_COLUMNS} FROM STDIN`)));
      return performance.now() - t0;
    } finally {
      client.release();
    }
  };
  const insertOnly = async (rows: readonly MergedRow[]): Promise<number> => {
    const t0 = performance.now();
    await o.db.transaction((tx) => tx.batch(insertTelemetryStatements(rows)));
    return performance.now() - t0;
  };
  const baseline = async (records: StreamRecord[]): Promise<number> => {
    const client = await admin.connect();
    try {
      const t0 = performance.now();
      await naiveHandler(client, records);
      return performance.now() - t0;
    } finally {
      client.release();
    }
  };

  try {
    // Warm-up: JIT, pool connections, first partitions touched. Not measured.
    o.progress('ingest: warm-up');
    await measure(o.batches.next(o.batchSize, SHARD).records, 'merge');
    await measure(o.batches.next(o.batchSize, SHARD).records, 'raw');
    await baseline(o.batches.next(Math.min(200, o.baselineRecords), SHARD).records);

    const ceilingA: number[] = [];
    const ceilingB: number[] = [];
    const baselinePerSec: number[] = [];
    const merge: BatchSample[][] = [];
    const raw: BatchSample[] = [];
    const insertOnlyMs: number[] = [];
    const stateFullMs: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      o.progress(`ingest: round ${round + 1}/${o.rounds}`);
      await truncate();
      const mergeBatches = Array.from({ length: o.mergeBatchesPerRound }, () => o.batches.next(o.batchSize, SHARD).records);
      const rawBatch = o.batches.next(o.batchSize, SHARD).records;
      const baselineBatch = o.batches.next(o.baselineRecords, SHARD).records;

      const first = mergeBatches[0] as StreamRecord[];
      ceilingA.push(median([0, 1, 2].map(() => timeMs(() => bareDecodeAndMerge(first)))));
      const samples: BatchSample[] = [];
      for (const b of mergeBatches) samples.push(await measure(b, 'merge'));
      merge.push(samples);
      raw.push(await measure(rawBatch, 'raw'));
      // The state save alone (already applied, so repeating it changes nothing).
      const { changes } = lastDerivation;
      stateFullMs.push(await timeAsyncMs(() => o.db.transaction((tx) => tx.batch(saveStateStatements(changes)))));
      const rows = rawRows(validRecords(rawBatch, o.window));
      await truncate();
      insertOnlyMs.push(await insertOnly(rows));
      await truncate();
      ceilingB.push(await copyRows(rows));
      await truncate();
      baselinePerSec.push(perSecond(baselineBatch.length, await baseline(baselineBatch)));
    }

    let profiles: IngestBenchResult['profiles'];
    if (o.profile) {
      o.progress('ingest: profiling merge and raw batches');
      const mergeBatches = Array.from({ length: 3 }, () => o.batches.next(o.batchSize, SHARD).records);
      const mergeProfile = await profile(async () => {
        for (const b of mergeBatches) await ingestBatch(b, deps('merge'));
      });
      const rawBatch = o.batches.next(o.batchSize, SHARD).records;
      const rawProfile = await profile(() => ingestBatch(rawBatch, deps('raw')));
      profiles = { merge: summarizeProfile(mergeProfile, 20).self, raw: summarizeProfile(rawProfile, 20).self };
    }

    const ceilingAPerSec = ceilingA.map((ms) => perSecond(o.batchSize, ms));
    const ceilingBPerSec = ceilingB.map((ms) => perSecond(o.batchSize, ms));
    const mergeResult = summarizeMode(merge);
    const rawResult = summarizeMode(raw.map((s) => [s]));
    const copyMs = median(ceilingB);
    const projectedMs = rawResult.msPerBatch - median(insertOnlyMs) + copyMs;
    const projectedPerSec = perSecond(rawResult.rowsPerBatch, projectedMs);
    return {
      batchSize: o.batchSize,
      rounds: o.rounds,
      ceilingA: { recordsPerSec: median(ceilingAPerSec), msPerBatch: median(ceilingA), perRoundPerSec: ceilingAPerSec },
      ceilingB: { rowsPerSec: median(ceilingBPerSec), msPerBatch: copyMs, perRoundPerSec: ceilingBPerSec },
      baseline: { recordsPerSec: median(baselinePerSec), records: o.baselineRecords, perRoundPerSec: baselinePerSec },
      merge: mergeResult,
      raw: {
        ...rawResult,
        insertOnlyMs: median(insertOnlyMs),
        stateSaveMs: median(stateFullMs),
        projectedWithCopyRowsPerSec: projectedPerSec,
      },
      ratios: {
        mergeVsCeilingA: pairedRatio(mergeResult.perRoundPerSec, ceilingAPerSec),
        rawVsCeilingB: pairedRatio(rawResult.perRoundPerSec, ceilingBPerSec),
        mergeVsBaseline: pairedRatio(mergeResult.perRoundPerSec, baselinePerSec),
        projectedRawWithCopyVsCeilingB: projectedPerSec / median(ceilingBPerSec),
      },
      ...(profiles ? { profiles } : {}),
    };
  } finally {
    await admin.end();
  }
}

const SHARD = 'shardId-000000000000';

async function timeAsyncMs(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}


function timeMs(work: () => unknown): number {
  const t0 = performance.now();
  work();
  return performance.now() - t0;
}

function validRecords(records: readonly StreamRecord[], window: TimeWindow): Reading[] {
  const now = Date.now();
  return records.flatMap((r) => {
    const d = decodeRecord(r.data, now, window);
    return d.ok ? [{ record: d.record, tsUs: d.tsUs, stream: r }] : [];
  });
}

const NULL_SESSION: SqlSession = {
  query: () => Promise.resolve({ rows: [] }),
  exec: () => Promise.resolve(),
  batch: (statements) => Promise.resolve(statements.map(() => [])),
};

/** The batch's store calls again against a session that answers at once: their JS cost alone. */
async function statementWork(records: readonly StreamRecord[], rows: readonly MergedRow[], derived: Derivation): Promise<number> {
  const t0 = performance.now();
  const positions = highestPositions(records);
  await NULL_SESSION.batch([loadCheckpointsStatement(positions)]);
  const advance = advanceCheckpointsStatement(positions);
  await NULL_SESSION.batch([
    ...insertTelemetryStatements(rows),
    ...saveStateStatements(derived.changes),
    ...addToOutboxStatements(derived.events.map((e) => ({ destination: 'events' as const, id: e.id, body: JSON.stringify(e) }))),
    ...(advance ? [advance] : []),
  ]);
  return performance.now() - t0;
}

const parse = (data: string): TelemetryRecord => JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as TelemetryRecord;

function bareDecode(records: readonly StreamRecord[]): unknown[] {
  return records.map((r) => parse(r.data));
}

/** Ceiling A: the least any merge must do (base64, JSON.parse, event time, merge); no validation, no I/O. */
function bareDecodeAndMerge(records: readonly StreamRecord[]): MergedRow[] {
  return mergeReadings(
    records.map((r) => {
      const record = parse(r.data);
      return { record, tsUs: instantMicros(record.ts), stream: r };
    }),
  );
}

/** What most sample code does: validate each record, then one parameterised INSERT per record. */
async function naiveHandler(client: pg.PoolClient, records: readonly StreamRecord[]): Promise<void> {
  for (const r of records) {
    const record = TelemetryRecordSchema.parse(JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')));
    const v = record.value;
    await client.query(
      `INSERT INTO telemetry_events (ts, source, fact_name, value_float, value_bool, value_str, sample_count, event_id)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT (source, fact_name, ts) DO NOTHING`,
      [record.ts, record.source, record.fact, typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null, typeof v === 'boolean' ? v : null, typeof v === 'string' ? v : null, record.id],
    );
  }
}

function summarizeMode(rounds: BatchSample[][]): ModeResult {
  const all = rounds.flat();
  const m = (f: (s: BatchSample) => number) => median(all.map(f));
  const sqlMs = (s: BatchSample) => totalSqlMs(s.sql);
  const ms: Breakdown = {
    decode: m((s) => s.bareDecodeMs),
    validation: m((s) => Math.max(0, s.decodeMs - s.bareDecodeMs)),
    merge: m((s) => s.mergeMs),
    sql: m(sqlMs),
    derive: m((s) => s.deriveMs),
    statements: m((s) => s.statementsMs),
    publish: m((s) => Math.max(0, s.publishMs - s.sql.outsideTransactionMs)),
    other: 0,
  };
  const total = m((s) => s.totalMs);
  ms.other = Math.max(0, total - (ms.decode + ms.validation + ms.merge + ms.sql + ms.derive + ms.statements + ms.publish));
  const kinds = Object.keys(emptySqlTimings().ms) as Array<keyof SqlTimings['ms']>;
  const sqlByKind = Object.fromEntries(kinds.map((k) => [k, m((s) => s.sql.ms[k])])) as SqlTimings['ms'];
  const perRound = rounds.map((samples) => perSecond(sum(samples.map((s) => s.records)), sum(samples.map((s) => s.totalMs))));
  const rowsPerBatch = m((s) => s.rows);
  return {
    recordsPerSec: median(perRound),
    rowsPerSec: perSecond(rowsPerBatch, total),
    msPerBatch: total,
    rowsPerBatch,
    ms,
    sqlMs: sqlByKind,
    statementsPerBatch: m((s) => s.sql.statements),
    derivedEventsPerBatch: sum(all.map((s) => s.derivedEvents)) / all.length,
    perRoundPerSec: perRound,
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
