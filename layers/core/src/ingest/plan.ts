import { isAlreadyCommitted, type Committed } from '../db/checkpointStore.ts';
import { cachedSeriesKey, fingerprintOf, minuteOf, type Reading } from '../reading.ts';
import { deaggregate } from '../kpl/deaggregate.ts';
import { decodeRecord, decodeRecordBytes, type Decoded, type DeadLetterReason, type TimeWindow } from '../record.ts';
import type { LoadedState, LookupResult, MinuteLookup } from './store.ts';
import type { StreamRecord, SubRecord } from './streamRecord.ts';

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
  readings: Reading[];
  rejected: Rejection[];
  /** Records after unpacking aggregates (a corrupt aggregate counts as one): readings + rejected. */
  records: number;
}

/** base64 of the KPL magic's first three bytes (F3 89 9A): only such data can be an aggregate. */
const KPL_BASE64_PREFIX = '84ma';

export function decodeBatch(batch: readonly StreamRecord[], nowMs: number, window: TimeWindow): DecodedBatch {
  const readings: Reading[] = [];
  const rejected: Rejection[] = [];
  const take = (stream: StreamRecord, d: Decoded, sub?: SubRecord) => {
    if (d.ok) readings.push({ record: d.record, tsUs: d.tsUs, stream, series: cachedSeriesKey(d.record.source, d.record.fact), ...(sub ? { sub } : {}) });
    else rejected.push({ stream, ...(sub ? { sub } : {}), reason: d.error.reason, detail: d.error.detail });
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
        unpacked.records.forEach((u, subSequenceNumber) =>
          take(stream, decodeRecordBytes(u.data, nowMs, window), { subSequenceNumber, partitionKey: u.partitionKey, data: u.data }),
        );
        continue;
      }
    }
    take(stream, decodeRecord(stream.data, nowMs, window));
  }
  return { readings, rejected, records: readings.length + rejected.length };
}

/** Where a record sits in the stream, for a person: sequence number, and sub-sequence in an aggregate. */
export const positionOf = (stream: StreamRecord, sub?: SubRecord): string => (sub ? `${stream.sequenceNumber}/${sub.subSequenceNumber}` : stream.sequenceNumber);

/** After the load: the readings known to be new, and those that must be checked against storage. */
export interface Screened {
  /** In batch order: each is new (above its series' newest stored reading) or a candidate. */
  unique: Array<{ reading: Reading; candidate: boolean }>;
  duplicates: Reading[];
  rejected: Rejection[];
  lookups: MinuteLookup[];
}

const minuteKey = (series: string, minuteUs: number) => `${series}\u0000${minuteUs}`;

export function screen(decoded: DecodedBatch, loaded: LoadedState): Screened {
  const horizonUs = loaded.horizon.us ?? -Infinity;
  const rejected = [...decoded.rejected];
  const duplicates: Reading[] = [];
  const unique: Screened['unique'] = [];
  const seen = new Map<string, SeenInSeries>();
  const lookups = new Map<string, MinuteLookup>();
  for (const reading of decoded.readings) {
    if (reading.tsUs < horizonUs) {
      // Storing it would recreate a chunk (partition) retention already dropped, or land where no
      // aggregate refresh reaches any more: it would be in no rollup and soon gone again.
      rejected.push({
        stream: reading.stream,
        ...(reading.sub ? { sub: reading.sub } : {}),
        reason: 'ts_out_of_range',
        detail: `${reading.record.ts} is older than the warehouse keeps and aggregates (raw retention ${loaded.horizon.rawRetentionDays ?? '-'} days)`,
      });
      continue;
    }
    const { series } = reading;
    let inSeries = seen.get(series);
    if (!inSeries) seen.set(series, (inSeries = { newestUs: -Infinity, inOrder: [] }));
    const earlier = earlierWithTimeOf(inSeries, reading);
    if (earlier) {
      if (fingerprintOf(earlier) === fingerprintOf(reading)) duplicates.push(reading);
      else
        rejected.push({ ...rejectionOf(reading), reason: 'identity_conflict', detail: conflictDetail(reading, `record ${positionOf(earlier.stream, earlier.sub)} of this batch`) });
      continue;
    }
    const newest = loaded.newest.get(series);
    const candidate = newest === undefined || reading.tsUs <= newest;
    unique.push({ reading, candidate });
    if (!candidate) continue;
    const minuteUs = minuteOf(reading.tsUs);
    const key = minuteKey(series, minuteUs);
    const m = lookups.get(key);
    if (!m) lookups.set(key, { source: reading.record.source, fact: reading.record.fact, minuteUs, loUs: reading.tsUs, hiUs: reading.tsUs });
    else {
      m.loUs = Math.min(m.loUs, reading.tsUs);
      m.hiUs = Math.max(m.hiUs, reading.tsUs);
    }
  }
  return { unique, duplicates, rejected, lookups: [...lookups.values()] };
}

/**
 * The readings of one series so far in a batch. Devices send in time order, and a reading newer
 * than all before it cannot repeat one of them: the map by event time is built only once a series
 * has a reading out of order (a map entry per reading was a tenth of a batch's time).
 */
interface SeenInSeries {
  newestUs: number;
  inOrder: Reading[];
  byTime?: Map<number, Reading>;
}

/** The earlier reading of the batch with this one's event time, if any; else takes this one in. */
function earlierWithTimeOf(s: SeenInSeries, reading: Reading): Reading | undefined {
  if (reading.tsUs > s.newestUs) {
    s.newestUs = reading.tsUs;
    if (s.byTime) s.byTime.set(reading.tsUs, reading);
    else s.inOrder.push(reading);
    return undefined;
  }
  s.byTime ??= new Map(s.inOrder.map((r) => [r.tsUs, r]));
  const earlier = s.byTime.get(reading.tsUs);
  if (!earlier) s.byTime.set(reading.tsUs, reading);
  return earlier;
}

export interface Classified {
  /** In batch order. */
  written: Reading[];
  /** Of `written`: older than their series' newest stored reading (late or reordered, never seen). */
  late: number;
  duplicates: Reading[];
  rejected: Rejection[];
}

/** Decides the candidates exactly, against the identities stored in their minutes. */
export function resolve(screened: Screened, loaded: LoadedState, lookup: LookupResult | undefined): Classified {
  const written: Reading[] = [];
  const duplicates = [...screened.duplicates];
  const rejected = [...screened.rejected];
  let late = 0;
  for (const { reading, candidate } of screened.unique) {
    if (!candidate) {
      written.push(reading);
      continue;
    }
    const { series } = reading;
    const minuteUs = minuteOf(reading.tsUs);
    const storedFp = lookup?.stored.get(minuteKey(series, minuteUs))?.get(reading.tsUs - minuteUs);
    if (storedFp === undefined) {
      const newest = loaded.newest.get(series) ?? lookup?.newest.get(series);
      if (newest !== undefined && reading.tsUs < newest) late++;
      written.push(reading);
    } else if (storedFp === fingerprintOf(reading)) {
      duplicates.push(reading);
    } else {
      rejected.push({ ...rejectionOf(reading), reason: 'identity_conflict', detail: conflictDetail(reading, 'a stored reading') });
    }
  }
  return { written, late, duplicates, rejected };
}

const rejectionOf = (r: Reading): Pick<Rejection, 'stream' | 'sub'> => ({ stream: r.stream, ...(r.sub ? { sub: r.sub } : {}) });

function conflictDetail(r: Reading, other: string): string {
  return `source ${r.record.source}, fact ${r.record.fact}, ts ${r.record.ts}: same identity as ${other}, with a different id or value`;
}

/** Duplicates that Lambda delivered again (at or below the committed position) rather than a producer resend. */
export const isRedelivery = (r: Reading, checkpoints: Committed): boolean => isAlreadyCommitted(r.stream, checkpoints);
