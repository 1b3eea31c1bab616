import { deaggregate } from '../kpl/deaggregate.ts';
import { factOfSeries, minuteOf, sourceOfSeries } from '../reading.ts';
import { decodeReading, InvalidRecordError, recordBytes, type DeadLetterReason, type DecodedReading, type TimeWindow } from '../record.ts';
import { Readings } from './readings.ts';
import type { LoadedState, LookupResult, MinuteLookup } from './store.ts';
import { subRecordOf, type InAggregate, type StreamRecord, type SubRecord } from './streamRecord.ts';

/**
 * The pure half of ingest: what each record of a batch is. Every record ends in exactly one class:
 * a new reading (written), a duplicate (a resend of a stored reading, or of one earlier in the
 * batch), or a rejection (dead-lettered with its reason). Whether a duplicate or a dead letter is a
 * Lambda redelivery is told apart later, for the counters only.
 */

export interface Rejection {
  stream: StreamRecord;
  /** The user record, when the rejected one came out of a KPL aggregate. */
  sub?: SubRecord;
  reason: DeadLetterReason;
  detail: string;
}

export interface DecodedBatch {
  readings: Readings;
  rejected: Rejection[];
  /** Records after unpacking aggregates (a corrupt aggregate counts as one): readings + rejected. */
  records: number;
}

/** base64 of the KPL magic's first three bytes (F3 89 9A): only such data can be an aggregate. */
const KPL_BASE64_PREFIX = '84ma';

/** `withRecords`: keep every reading's record (raw mode makes a row of each), not only those that are not canonical. */
export function decodeBatch(batch: readonly StreamRecord[], nowMs: number, window: TimeWindow, withRecords = false): DecodedBatch {
  const readings = new Readings(batch.length);
  const rejected: Rejection[] = [];
  const take = (stream: StreamRecord, d: DecodedReading, user?: InAggregate) => {
    if (d.ok) readings.push(d, stream, user);
    else rejected.push({ stream, ...(user ? { sub: subRecordOf(user) } : {}), reason: d.error.reason, detail: d.error.detail });
  };
  for (const stream of batch) {
    // An aggregate's MD5 vouches for its bytes, so its (long) text is not checked for canonical
    // base64 first: a damaged one fails the digest and is set aside as bad_aggregate.
    if (stream.data.startsWith(KPL_BASE64_PREFIX)) {
      const unpacked = deaggregate(Buffer.from(stream.data, 'base64'));
      if (unpacked.kind === 'corrupt') {
        // Set aside whole: which user records it held cannot be known.
        rejected.push({ stream, reason: 'bad_aggregate', detail: `${unpacked.reason}: ${unpacked.detail}` });
        continue;
      }
      if (unpacked.kind === 'aggregate') {
        unpacked.records.forEach((record, subSequenceNumber) => take(stream, decodeReading(record.data, nowMs, window, withRecords), { record, subSequenceNumber }));
        continue;
      }
    }
    const bytes = recordBytes(stream.data);
    take(stream, bytes instanceof InvalidRecordError ? { ok: false, error: bytes } : decodeReading(bytes, nowMs, window, withRecords));
  }
  return { readings, rejected, records: readings.length + rejected.length };
}

/** Where a record sits in the stream, for a person: sequence number, and sub-sequence in an aggregate. */
export const positionOf = (stream: StreamRecord, sub?: SubRecord): string => (sub ? `${stream.sequenceNumber}/${sub.subSequenceNumber}` : stream.sequenceNumber);

/** After the load: the readings known to be new, and those that must be checked against storage. */
export interface Screened {
  readings: Readings;
  /** Indexes into readings, in batch order: each new (above its series' newest stored reading) or a candidate. */
  unique: Uint32Array;
  /** Of unique, by index: 1 for a candidate. */
  candidate: Uint8Array;
  /** Indexes into readings. */
  duplicates: number[];
  rejected: Rejection[];
  lookups: MinuteLookup[];
}

const minuteKey = (series: string, minuteUs: number) => `${series}\u0000${minuteUs}`;

export function screen(decoded: DecodedBatch, loaded: LoadedState): Screened {
  const { readings } = decoded;
  const { tsUs, fp, series } = readings;
  const horizonUs = loaded.horizon.us ?? -Infinity;
  const rejected = [...decoded.rejected];
  const duplicates: number[] = [];
  // Typed, and sized for the batch: no array of the batch's length grows on the collected heap.
  const unique = new Uint32Array(readings.length);
  let uniqueCount = 0;
  const candidate = new Uint8Array(readings.length);
  const seen = new Map<string, SeenInSeries>();
  const lookups = new Map<string, MinuteLookup>();
  for (let i = 0; i < readings.length; i++) {
    if (tsUs[i]! < horizonUs) {
      // Storing it would recreate a chunk (partition) retention already dropped, or land where no
      // aggregate refresh reaches any more: it would be in no rollup and soon gone again.
      rejected.push({
        ...rejectionOf(readings, i),
        reason: 'ts_out_of_range',
        detail: `${readings.record(i).ts} is older than the warehouse keeps and aggregates (raw retention ${loaded.horizon.rawRetentionDays ?? '-'} days)`,
      });
      continue;
    }
    const key = series[i]!;
    let inSeries = seen.get(key);
    if (!inSeries) seen.set(key, (inSeries = { newestUs: -Infinity, storedNewestUs: loaded.newest.get(key), inOrder: [] }));
    const earlier = earlierWithTimeOf(inSeries, tsUs, i);
    if (earlier !== undefined) {
      if (fp[earlier] === fp[i]) duplicates.push(i);
      else {
        const other = `record ${positionOf(readings.stream[earlier]!, readings.sub(earlier))} of this batch`;
        rejected.push({ ...rejectionOf(readings, i), reason: 'identity_conflict', detail: conflictDetail(readings, i, other) });
      }
      continue;
    }
    unique[uniqueCount++] = i;
    const newest = inSeries.storedNewestUs;
    if (newest !== undefined && tsUs[i]! > newest) continue;
    candidate[i] = 1;
    const minuteUs = minuteOf(tsUs[i]!);
    const mk = minuteKey(key, minuteUs);
    const m = lookups.get(mk);
    if (!m) lookups.set(mk, { source: sourceOfSeries(key), fact: factOfSeries(key), minuteUs, loUs: tsUs[i]!, hiUs: tsUs[i]! });
    else {
      m.loUs = Math.min(m.loUs, tsUs[i]!);
      m.hiUs = Math.max(m.hiUs, tsUs[i]!);
    }
  }
  return { readings, unique: unique.subarray(0, uniqueCount), candidate, duplicates, rejected, lookups: [...lookups.values()] };
}

/**
 * The readings of one series so far in a batch (indexes). Devices send in time order, and a
 * reading newer than all before it cannot repeat one of them: the map by event time is built only
 * once a series has a reading out of order (a map entry per reading was a tenth of a batch's time).
 */
interface SeenInSeries {
  newestUs: number;
  /** The newest stored reading's event time, from the load. */
  storedNewestUs: number | undefined;
  inOrder: number[];
  byTime?: Map<number, number>;
}

/** The earlier reading of the batch with reading i's event time, if any; else takes i in. */
function earlierWithTimeOf(s: SeenInSeries, tsUs: Float64Array, i: number): number | undefined {
  const t = tsUs[i]!;
  if (t > s.newestUs) {
    s.newestUs = t;
    if (s.byTime) s.byTime.set(t, i);
    else s.inOrder.push(i);
    return undefined;
  }
  s.byTime ??= new Map(s.inOrder.map((k) => [tsUs[k]!, k]));
  const earlier = s.byTime.get(t);
  if (earlier === undefined) s.byTime.set(t, i);
  return earlier;
}

export interface Classified {
  readings: Readings;
  /** Indexes into readings, in batch order. */
  written: Uint32Array;
  /** Of `written`: older than their series' newest stored reading (late or reordered, never seen). */
  late: number;
  /** Indexes into readings. */
  duplicates: number[];
  rejected: Rejection[];
}

/** Decides the candidates exactly, against the identities stored in their minutes. */
export function resolve(screened: Screened, loaded: LoadedState, lookup: LookupResult | undefined): Classified {
  const { readings, candidate } = screened;
  const { tsUs, fp, series } = readings;
  const written = new Uint32Array(screened.unique.length);
  let writtenCount = 0;
  const duplicates = [...screened.duplicates];
  const rejected = [...screened.rejected];
  let late = 0;
  for (const i of screened.unique) {
    if (candidate[i] === 0) {
      written[writtenCount++] = i;
      continue;
    }
    const minuteUs = minuteOf(tsUs[i]!);
    const storedFp = lookup?.stored.get(minuteKey(series[i]!, minuteUs))?.get(tsUs[i]! - minuteUs);
    if (storedFp === undefined) {
      const newest = loaded.newest.get(series[i]!) ?? lookup?.newest.get(series[i]!);
      if (newest !== undefined && tsUs[i]! < newest) late++;
      written[writtenCount++] = i;
    } else if (storedFp === fp[i]) {
      duplicates.push(i);
    } else {
      rejected.push({ ...rejectionOf(readings, i), reason: 'identity_conflict', detail: conflictDetail(readings, i, 'a stored reading') });
    }
  }
  return { readings, written: written.subarray(0, writtenCount), late, duplicates, rejected };
}

function rejectionOf(readings: Readings, i: number): Pick<Rejection, 'stream' | 'sub'> {
  const sub = readings.sub(i);
  return { stream: readings.stream[i]!, ...(sub ? { sub } : {}) };
}

function conflictDetail(readings: Readings, i: number, other: string): string {
  const r = readings.record(i);
  return `source ${r.source}, fact ${r.fact}, ts ${r.ts}: same identity as ${other}, with a different id or value`;
}
