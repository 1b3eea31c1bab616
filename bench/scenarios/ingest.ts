import type { SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { advanceCheckpointsStatement, highestPositions, loadCheckpointsStatement } from '#core/db/checkpointStore';
import { loadStatesStatements, parseSourceStates, saveStateStatements } from '#core/db/derivedStateStore';
import { addToOutboxStatements } from '#core/db/outbox';
import { pgIngestStore } from '#core/db/pgIngestStore';
import type { SqlDatabase, SqlSession } from '#core/db/session';
import { TELEMETRY_COPY, telemetryCopyData } from '#core/db/telemetryCopy';
import { derive, type Derivation } from '#core/derive';
import { ingestBatch, type IngestDeps } from '#core/ingest/ingestBatch';
import { decodeBatch } from '#core/ingest/plan';
import { Readings } from '#core/ingest/readings';
import { fromKinesisEvent, type StreamRecord } from '#core/ingest/streamRecord';
import { mergeReadings, rawRows, type MergedRow } from '#core/merge';
import { fingerprint, seriesKey } from '#core/reading';
import { instantMicros, numericOf, TelemetryRecordSchema, type TelemetryRecord, type TimeWindow } from '#core/record';
import { breweryRuleSet } from '#core/rules/brewery';
import { summarizeProfile, type FrameCost } from '../lib/cpuProfile.ts';
import { profile } from '../lib/profiler.ts';
import { median, pairedRatio, perSecond } from '../lib/stats.ts';
import type { BatchSource, SyntheticBatch } from '../lib/syntheticBatches.ts';
import { emptySqlTimings, timedDatabase, type SqlTimings } from '../lib/timedDb.ts';
import { peerHandler } from './peers.ts';

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
  rawBatchesPerRound: number;
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
  /** Messages to the database and back: a network hop adds its latency to each. */
  roundTripsPerBatch: number;
  /** Mean derived events (rule edges + anomalies) per batch. */
  derivedEventsPerBatch: number;
  perRoundPerSec: number[];
}

export interface PeerResult {
  recordsPerSec: number;
  msPerBatch: number;
  perRoundPerSec: number[];
}

export interface IngestBenchResult {
  batchSize: number;
  rounds: number;
  ceilingA: { recordsPerSec: number; msPerBatch: number; perRoundPerSec: number[] };
  ceilingB: { rowsPerSec: number; msPerBatch: number; perRoundPerSec: number[] };
  baseline: { recordsPerSec: number; records: number; perRoundPerSec: number[] };
  /** The hand-written Powertools + zod + unnest handlers (peers.ts), on the same batches' twins. */
  peers: { raw: PeerResult; compacted: PeerResult };
  merge: ModeResult;
  /**
   * The handler's work from the invocation payload (the runtime's JSON.parse of the event included,
   * as Lambda bills it) on plain batches and on the same readings as KPL aggregates.
   */
  aggregated: {
    recordsPerSec: number;
    msPerBatch: number;
    kinesisRecordsPerBatch: number;
    perRoundPerSec: number[];
    plain: { recordsPerSec: number; msPerBatch: number; perRoundPerSec: number[] };
  };
  /**
   * The price of exactness: merge batches holding 5% producer resends of stored readings and 5%
   * late readings (held back from the batch before), against in-order ones, same rounds.
   */
  resendsAndLate: { msPerBatch: number; inOrderMsPerBatch: number; perRoundRatio: number[] };
  raw: ModeResult & {
    /** The state save of the batch's changes (derive emits one per key, the newest). */
    stateSaveMs: number;
  };
  ratios: {
    mergeVsCeilingA: number;
    rawVsCeilingB: number;
    mergeVsBaseline: number;
    mergeVsPeerCompacted: number;
    rawVsPeerRaw: number;
    aggregatedVsPlain: number;
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
  /**
   * One ingestBatch call, timed. What it returns re-times the pure pieces on the same input: run it
   * once the round's batches are in. Harness work between batches filled the young generation, and
   * its collection then landed in tapline's next batch.
   */
  const ingestTimed = async (batch: SyntheticBatch, mode: 'merge' | 'raw'): Promise<() => Promise<BatchSample>> => {
    const { records } = batch;
    // The derived state before the batch, for the re-timed derive; the batch's sources from its
    // partition keys, so that no decoded batch of the harness is live (and copied by every
    // young-generation collection) while ingestBatch runs.
    const sources = [...new Set(records.map((r) => r.partitionKey))];
    const { states } = parseSourceStates(sources, await o.db.transaction((tx) => tx.batch(loadStatesStatements(sources))));
    sql = emptySqlTimings();
    // From the event, as the handler calls it (the peers too start from the event).
    const t0 = performance.now();
    const report = await ingestBatch(batch.event.Records.map(fromKinesisEvent), deps(mode));
    const totalMs = performance.now() - t0;
    // Detached: statements of the scenarios run between samples must not add to this one.
    const taken = sql;
    sql = emptySqlTimings();
    if (report.written !== records.length) throw new Error(`bench batch not ingested cleanly: ${JSON.stringify(report)}`);
    return async () => {
      const valid = validRecords(records, o.window, mode === 'raw');
      const bareDecodeMs = timeMs(() => bareDecode(records));
      let rows: MergedRow[] = [];
      const mergeMs = timeMs(() => (rows = mode === 'raw' ? rawRows(valid.readings, valid.all) : mergeReadings(valid.readings, valid.all)));
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
        sql: taken,
      };
    };
  };
  const measure = async (batch: SyntheticBatch, mode: 'merge' | 'raw'): Promise<BatchSample> => (await ingestTimed(batch, mode))();

  const truncate = () => admin.query('TRUNCATE telemetry_events');
  // Ceiling B: the same binary COPY tapline's raw mode sends, alone, on the same rows.
  const copyRows = (rows: readonly MergedRow[]): Promise<number> => timeAsyncMs(() => o.db.copyFrom(TELEMETRY_COPY, telemetryCopyData(rows)));
  const peerRaw = peerHandler(admin, false);
  const peerCompacted = peerHandler(admin, true);
  const peer = (compacted: boolean, batch: SyntheticBatch) => timeAsyncMs(() => (compacted ? peerCompacted : peerRaw)(batch.event));
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

  /**
   * Ingests `first` without its last 5% (held back) and `second` whole (the in-order reference),
   * then `third` with the held-back 5% (late now: newer readings of their series are stored) and 5%
   * of `second` resent under new sequence numbers, in place of as many of its own.
   */
  const resendsAndLate = async (first: SyntheticBatch, second: SyntheticBatch, third: SyntheticBatch) => {
    const cut = Math.floor(first.records.length * 0.95);
    const share = first.records.length - cut;
    await ingestBatch(first.records.slice(0, cut), deps('merge'));
    const inOrderMs = await timeAsyncMs(() => ingestBatch(second.records, deps('merge')));
    const last = BigInt(third.records.at(-1)!.sequenceNumber);
    const extra = [...first.records.slice(cut), ...second.records.slice(0, share)].map((r, i) => ({ ...r, sequenceNumber: String(last + BigInt(i + 1)) }));
    const mixed = [...third.records.slice(0, third.records.length - 2 * share), ...extra];
    let report: Awaited<ReturnType<typeof ingestBatch>> | undefined;
    const mixedMs = await timeAsyncMs(async () => (report = await ingestBatch(mixed, deps('merge'))));
    if (report?.duplicates !== share || report.late !== share) throw new Error(`resend/late batch miscounted: ${JSON.stringify(report)}`);
    return { mixedMs, inOrderMs };
  };

  try {
    // Warm-up: JIT, pool connections, first partitions touched, for tapline and the peers alike
    // (the first batches after a mode's first run slower again while the JIT settles). Not measured.
    o.progress('ingest: warm-up');
    for (let i = 0; i < WARM_UP_BATCHES; i++) {
      await measure(o.batches.next(o.batchSize, SHARD), 'merge');
      await peer(true, o.batches.next(o.batchSize, SHARD));
    }
    await measure(o.batches.next(o.batchSize, SHARD), 'raw');
    await peer(false, o.batches.next(o.batchSize, SHARD));
    await measure(o.batches.next(o.batchSize, SHARD), 'merge');
    await baseline(o.batches.next(Math.min(200, o.baselineRecords), SHARD).records);

    const ceilingA: number[] = [];
    const ceilingB: number[] = [];
    const ceilingBPerSec: number[] = [];
    const baselinePerSec: number[] = [];
    const merge: BatchSample[][] = [];
    const raw: BatchSample[][] = [];
    const peerCompactedPerSec: number[] = [];
    const peerRawPerSec: number[] = [];
    const peerCompactedMs: number[] = [];
    const peerRawMs: number[] = [];
    const stateFullMs: number[] = [];
    const mixedMs: number[] = [];
    const aggregatedMs: number[] = [];
    const aggregatedPerSec: number[] = [];
    const plainEventMs: number[] = [];
    const plainEventPerSec: number[] = [];
    let aggregatedRecords = 0;
    const inOrderMs: number[] = [];
    const next = () => o.batches.next(o.batchSize, SHARD);
    for (let round = 0; round < o.rounds; round++) {
      o.progress(`ingest: round ${round + 1}/${o.rounds}`);
      // Tapline and the compacting peer take turns, batch by batch, so both meet the same state of
      // the machine and the heap. Each gets its own consecutive batches (same plant, same shape),
      // each made just before it is timed, as Lambda parses an event just before the handler: made
      // all at the round's start, they were promoted by the collections of the side timed first.
      await truncate();
      const mergeBatches: SyntheticBatch[] = [];
      const retimes: Array<() => Promise<BatchSample>> = [];
      const compactedMs: number[] = [];
      for (let i = 0; i < o.mergeBatchesPerRound; i++) {
        const b = next();
        mergeBatches.push(b);
        retimes.push(await ingestTimed(b, 'merge'));
        compactedMs.push(await peer(true, next()));
      }
      peerCompactedMs.push(median(compactedMs));
      peerCompactedPerSec.push(perSecond(o.batchSize * compactedMs.length, sum(compactedMs)));
      const samples: BatchSample[] = [];
      for (const retime of retimes) samples.push(await retime());
      merge.push(samples);
      const first = mergeBatches[0]!.records;
      ceilingA.push(median([0, 1, 2].map(() => timeMs(() => bareDecodeAndMerge(first)))));
      const fromPayload = async (batch: SyntheticBatch) => {
        const payload = JSON.stringify(batch.event);
        let report: Awaited<ReturnType<typeof ingestBatch>> | undefined;
        const ms = await timeAsyncMs(async () => {
          const event = JSON.parse(payload) as SyntheticBatch['event'];
          report = await ingestBatch(event.Records.map(fromKinesisEvent), deps('merge'));
        });
        if (report?.written !== o.batchSize) throw new Error(`payload batch not ingested cleanly: ${JSON.stringify(report)}`);
        return ms;
      };
      const aggMs: number[] = [];
      const plainMs: number[] = [];
      for (let i = 0; i < o.mergeBatchesPerRound; i++) {
        plainMs.push(await fromPayload(next()));
        const b = o.batches.nextAggregated(o.batchSize, SHARD);
        aggregatedRecords = b.records.length;
        aggMs.push(await fromPayload(b));
      }
      aggregatedMs.push(median(aggMs));
      aggregatedPerSec.push(perSecond(o.batchSize * aggMs.length, sum(aggMs)));
      plainEventMs.push(median(plainMs));
      plainEventPerSec.push(perSecond(o.batchSize * plainMs.length, sum(plainMs)));
      const mixed = await resendsAndLate(next(), next(), next());
      mixedMs.push(mixed.mixedMs);
      inOrderMs.push(mixed.inOrderMs);
      // Raw batches, the raw peer's and the same rows' COPY (ceiling B), each into an empty table.
      const rawSamples: BatchSample[] = [];
      const rawPeerMs: number[] = [];
      const copyMs: number[] = [];
      for (let i = 0; i < o.rawBatchesPerRound; i++) {
        await truncate();
        const rawBatch = next();
        rawSamples.push(await measure(rawBatch, 'raw'));
        if (i === 0) {
          // The state save alone (already applied, so repeating it changes nothing).
          const { changes } = lastDerivation;
          stateFullMs.push(await timeAsyncMs(() => o.db.transaction((tx) => tx.batch(saveStateStatements(changes)))));
        }
        await truncate();
        rawPeerMs.push(await peer(false, next()));
        await truncate();
        const valid = validRecords(rawBatch.records, o.window, true);
        copyMs.push(await copyRows(rawRows(valid.readings, valid.all)));
      }
      raw.push(rawSamples);
      peerRawMs.push(median(rawPeerMs));
      peerRawPerSec.push(perSecond(o.batchSize * rawPeerMs.length, sum(rawPeerMs)));
      ceilingB.push(median(copyMs));
      ceilingBPerSec.push(perSecond(o.batchSize * copyMs.length, sum(copyMs)));
      await truncate();
      const baselineBatch = o.batches.next(o.baselineRecords, SHARD).records;
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
    const mergeResult = summarizeMode(merge);
    const rawResult = summarizeMode(raw);
    return {
      batchSize: o.batchSize,
      rounds: o.rounds,
      ceilingA: { recordsPerSec: median(ceilingAPerSec), msPerBatch: median(ceilingA), perRoundPerSec: ceilingAPerSec },
      ceilingB: { rowsPerSec: median(ceilingBPerSec), msPerBatch: median(ceilingB), perRoundPerSec: ceilingBPerSec },
      baseline: { recordsPerSec: median(baselinePerSec), records: o.baselineRecords, perRoundPerSec: baselinePerSec },
      peers: {
        raw: { recordsPerSec: median(peerRawPerSec), msPerBatch: median(peerRawMs), perRoundPerSec: peerRawPerSec },
        compacted: { recordsPerSec: median(peerCompactedPerSec), msPerBatch: median(peerCompactedMs), perRoundPerSec: peerCompactedPerSec },
      },
      merge: mergeResult,
      aggregated: {
        recordsPerSec: median(aggregatedPerSec),
        msPerBatch: median(aggregatedMs),
        kinesisRecordsPerBatch: aggregatedRecords,
        perRoundPerSec: aggregatedPerSec,
        plain: { recordsPerSec: median(plainEventPerSec), msPerBatch: median(plainEventMs), perRoundPerSec: plainEventPerSec },
      },
      resendsAndLate: { msPerBatch: median(mixedMs), inOrderMsPerBatch: median(inOrderMs), perRoundRatio: mixedMs.map((m, i) => m / inOrderMs[i]!) },
      raw: { ...rawResult, stateSaveMs: median(stateFullMs) },
      ratios: {
        mergeVsCeilingA: pairedRatio(mergeResult.perRoundPerSec, ceilingAPerSec),
        rawVsCeilingB: pairedRatio(rawResult.perRoundPerSec, ceilingBPerSec),
        mergeVsBaseline: pairedRatio(mergeResult.perRoundPerSec, baselinePerSec),
        mergeVsPeerCompacted: pairedRatio(mergeResult.perRoundPerSec, peerCompactedPerSec),
        rawVsPeerRaw: pairedRatio(rawResult.perRoundPerSec, peerRawPerSec),
        aggregatedVsPlain: pairedRatio(aggregatedPerSec, plainEventPerSec),
      },
      ...(profiles ? { profiles } : {}),
    };
  } finally {
    await admin.end();
  }
}

const SHARD = 'shardId-000000000000';
const WARM_UP_BATCHES = 3;

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

/** The batch's valid readings as ingest decodes them, and all their indexes. */
function validRecords(records: readonly StreamRecord[], window: TimeWindow, withRecords: boolean): { readings: Readings; all: number[] } {
  const { readings } = decodeBatch(records, Date.now(), window, withRecords);
  return { readings, all: allOf(readings) };
}

const NULL_SESSION: SqlSession = {
  query: () => Promise.resolve({ rows: [] }),
  exec: () => Promise.resolve(),
  batch: (statements) => Promise.resolve(statements.map(() => [])),
  copyFrom: () => Promise.resolve(),
};

/** The batch's store calls again against a session that answers at once: their JS cost alone. */
async function statementWork(records: readonly StreamRecord[], rows: readonly MergedRow[], derived: Derivation): Promise<number> {
  const t0 = performance.now();
  const positions = highestPositions(records);
  await NULL_SESSION.batch([loadCheckpointsStatement(positions)]);
  const advance = advanceCheckpointsStatement(positions);
  await NULL_SESSION.copyFrom(TELEMETRY_COPY, telemetryCopyData(rows));
  await NULL_SESSION.batch([
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
  const readings = new Readings(records.length);
  for (const r of records) {
    const record = parse(r.data);
    const { source, fact, id, value } = record;
    readings.push(
      { ok: true, series: seriesKey(source, fact), tsUs: instantMicros(record.ts), fp: fingerprint(id, value), numeric: numericOf(value) ?? Number.NaN, record },
      r,
      undefined,
    );
  }
  return mergeReadings(readings, allOf(readings));
}

const allOf = (readings: Readings): number[] => Array.from({ length: readings.length }, (_, i) => i);

/** What most sample code does: validate each record, then one parameterised INSERT per record. */
async function naiveHandler(client: pg.PoolClient, records: readonly StreamRecord[]): Promise<void> {
  for (const r of records) {
    const record = TelemetryRecordSchema.parse(JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')));
    const v = record.value;
    await client.query(
      `INSERT INTO telemetry_events (ts, source, fact_name, value_float, value_bool, value_str, sample_count, event_id)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT (source, fact_name, ts) DO NOTHING`,
      [
        record.ts,
        record.source,
        record.fact,
        typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null,
        typeof v === 'boolean' ? v : null,
        typeof v === 'string' ? v : null,
        record.id,
      ],
    );
  }
}

function summarizeMode(rounds: BatchSample[][]): ModeResult {
  const all = rounds.flat();
  const m = (f: (s: BatchSample) => number) => median(all.map(f));
  const ms: Breakdown = {
    // Canonical records are read and checked in one pass, faster than base64 + JSON.parse alone:
    // then all of ingest's decode timer is decode, and none of it validation.
    decode: m((s) => Math.min(s.bareDecodeMs, s.decodeMs)),
    validation: m((s) => Math.max(0, s.decodeMs - s.bareDecodeMs)),
    merge: m((s) => s.mergeMs),
    // The load is sent before the decode (raw mode: its first chunk) and awaited after it: as long
    // as both last, the time is the decode's.
    sql: m((s) => Math.max(0, s.sql.wallMs - Math.min(s.decodeMs, s.sql.firstMs))),
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
    roundTripsPerBatch: m((s) => s.sql.roundTrips),
    derivedEventsPerBatch: sum(all.map((s) => s.derivedEvents)) / all.length,
    perRoundPerSec: perRound,
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
