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

/**
 * A batch decoded front to back on demand, once for all the attempts of its transaction: raw mode
 * takes its readings a chunk at a time, so the rows of the first go to the database while the rest
 * are read.
 */
export class BatchDecoder {
  readonly readings: Readings;
  readonly rejected: Rejection[] = [];
  /** Time spent decoding so far (ms). */
  ms = 0;
  private next = 0;

  /** `withRecords`: keep every reading's record (raw mode makes a row of each), not only those that are not canonical. */
  constructor(
    private readonly batch: readonly StreamRecord[],
    private readonly nowMs: number,
    private readonly window: TimeWindow,
    private readonly withRecords = false,
  ) {
    this.readings = new Readings(batch.length);
  }

  /** Records after unpacking aggregates (a corrupt aggregate counts as one): readings + rejected. */
  get records(): number {
    return this.readings.length + this.rejected.length;
  }

  /** Decodes stream records until the readings number at least `count` or the batch is read; returns their number. */
  readingsUpTo(count: number): number {
    const t = performance.now();
    while (this.readings.length < count && this.next < this.batch.length) this.decode(this.batch[this.next++]!);
    this.ms += performance.now() - t;
    return this.readings.length;
  }

  all(): DecodedBatch {
    this.readingsUpTo(Infinity);
    return { readings: this.readings, rejected: this.rejected, records: this.records };
  }

  private decode(stream: StreamRecord): void {
    const { nowMs, window, withRecords } = this;
    // An aggregate's MD5 vouches for its bytes, so its (long) text is not checked for canonical
    // base64 first: a damaged one fails the digest and is set aside as bad_aggregate.
    if (stream.data.startsWith(KPL_BASE64_PREFIX)) {
      const unpacked = deaggregate(Buffer.from(stream.data, 'base64'));
      if (unpacked.kind === 'corrupt') {
        // Set aside whole: which user records it held cannot be known.
        this.rejected.push({ stream, reason: 'bad_aggregate', detail: `${unpacked.reason}: ${unpacked.detail}` });
        return;
      }
      if (unpacked.kind === 'aggregate') {
        unpacked.records.forEach((record, subSequenceNumber) => this.take(stream, decodeReading(record.data, nowMs, window, withRecords), { record, subSequenceNumber }));
        return;
      }
    }
    const bytes = recordBytes(stream.data);
    this.take(stream, bytes instanceof InvalidRecordError ? { ok: false, error: bytes } : decodeReading(bytes, nowMs, window, withRecords));
  }

  private take(stream: StreamRecord, d: DecodedReading, user?: InAggregate): void {
    if (d.ok) this.readings.push(d, stream, user);
    else this.rejected.push({ stream, ...(user ? { sub: subRecordOf(user) } : {}), reason: d.error.reason, detail: d.error.detail });
  }
}

export function decodeBatch(batch: readonly StreamRecord[], nowMs: number, window: TimeWindow, withRecords = false): DecodedBatch {
  return new BatchDecoder(batch, nowMs, window, withRecords).all();
}

/** Where a record sits in the stream, for a person: sequence number, and sub-sequence in an aggregate. */
export const positionOf = (stream: StreamRecord, sub?: SubRecord): string => (sub ? `${stream.sequenceNumber}/${sub.subSequenceNumber}` : stream.sequenceNumber);

const minuteKey = (series: string, minuteUs: number) => `${series}\u0000${minuteUs}`;

/**
 * After the load, front to back: which readings are new (above their series' newest stored one),
 * which repeat one earlier in the batch, and which must be checked against storage (candidates).
 * A reading's class depends only on the readings before it, so a batch can be screened in chunks.
 */
export class Screener {
  /** Readings screened so far: [0, screened). */
  screened = 0;
  /** Indexes into readings, in batch order: each new or a candidate. */
  unique: Uint32Array;
  uniqueCount = 0;
  /** Indexes into readings. */
  readonly duplicates: number[] = [];
  readonly rejected: Rejection[] = [];
  // Typed, and sized for the batch: no array of the batch's length grows on the collected heap.
  private candidate: Uint8Array;
  private readonly seen = new Map<string, SeenInSeries>();
  private readonly lookups = new Map<string, MinuteLookup>();

  /**
   * `lookUpAll`: every reading is a candidate, whatever its series' newest stored reading says:
   * after a unique violation showed the sources' state behind their rows.
   */
  constructor(
    readonly readings: Readings,
    private readonly lookUpAll = false,
  ) {
    this.unique = new Uint32Array(readings.tsUs.length);
    this.candidate = new Uint8Array(readings.tsUs.length);
  }

  isCandidate(i: number): boolean {
    return this.candidate[i] === 1;
  }

  /** The minutes holding candidates: what to look up before they are resolved. */
  minutes(): MinuteLookup[] {
    return [...this.lookups.values()];
  }

  /**
   * Screens readings [screened, to) against `loaded`, which has the state of every one of their
   * sources; returns how many of them are candidates.
   */
  take(to: number, loaded: LoadedState): number {
    const { readings } = this;
    const { tsUs, fp, series } = readings;
    if (this.unique.length < tsUs.length) this.growTo(tsUs.length);
    const horizonUs = loaded.horizon.us ?? -Infinity;
    let candidates = 0;
    for (let i = this.screened; i < to; i++) {
      if (tsUs[i]! < horizonUs) {
        // Storing it would recreate a chunk (partition) retention already dropped, or land where no
        // aggregate refresh reaches any more: it would be in no rollup and soon gone again.
        this.rejected.push({
          ...rejectionOf(readings, i),
          reason: 'ts_out_of_range',
          detail: `${readings.record(i).ts} is older than the warehouse keeps and aggregates (raw retention ${loaded.horizon.rawRetentionDays ?? '-'} days)`,
        });
        continue;
      }
      const key = series[i]!;
      let inSeries = this.seen.get(key);
      if (!inSeries) this.seen.set(key, (inSeries = { newestUs: -Infinity, storedNewestUs: loaded.newest.get(key), inOrder: [] }));
      const earlier = earlierWithTimeOf(inSeries, tsUs, i);
      if (earlier !== undefined) {
        if (fp[earlier] === fp[i]) this.duplicates.push(i);
        else {
          const other = `record ${positionOf(readings.stream[earlier]!, readings.sub(earlier))} of this batch`;
          this.rejected.push({ ...rejectionOf(readings, i), reason: 'identity_conflict', detail: conflictDetail(readings, i, other) });
        }
        continue;
      }
      this.unique[this.uniqueCount++] = i;
      const newest = this.lookUpAll ? undefined : inSeries.storedNewestUs;
      if (newest !== undefined && tsUs[i]! > newest) continue;
      this.candidate[i] = 1;
      candidates++;
      const minuteUs = minuteOf(tsUs[i]!);
      const mk = minuteKey(key, minuteUs);
      const m = this.lookups.get(mk);
      if (!m) this.lookups.set(mk, { source: sourceOfSeries(key), fact: factOfSeries(key), minuteUs, loUs: tsUs[i]!, hiUs: tsUs[i]! });
      else {
        m.loUs = Math.min(m.loUs, tsUs[i]!);
        m.hiUs = Math.max(m.hiUs, tsUs[i]!);
      }
    }
    this.screened = Math.max(this.screened, to);
    return candidates;
  }

  // KPL aggregates can hold more readings than the batch has records.
  private growTo(size: number): void {
    const unique = new Uint32Array(size);
    unique.set(this.unique);
    this.unique = unique;
    const candidate = new Uint8Array(size);
    candidate.set(this.candidate);
    this.candidate = candidate;
  }
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
  /** Indexes into readings, in batch order. */
  written: Uint32Array;
  /** Of `written`: older than their series' newest stored reading (late or reordered, never seen). */
  late: number;
  /** Indexes into readings: candidates that repeat a stored reading. */
  duplicates: number[];
  /** Candidates whose identity is stored with a different id or value. */
  rejected: Rejection[];
}

/**
 * Decides the unique readings [from, to) of the screener exactly: candidates against the identities
 * stored in their minutes (`lookup`; none needed when the range holds no candidate).
 */
export function resolve(screener: Screener, from: number, to: number, loaded: LoadedState, lookup: LookupResult | undefined): Classified {
  const { tsUs, fp, series } = screener.readings;
  const written = new Uint32Array(to - from);
  let writtenCount = 0;
  const duplicates: number[] = [];
  const rejected: Rejection[] = [];
  let late = 0;
  for (let k = from; k < to; k++) {
    const i = screener.unique[k]!;
    if (!screener.isCandidate(i)) {
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
      rejected.push({ ...rejectionOf(screener.readings, i), reason: 'identity_conflict', detail: conflictDetail(screener.readings, i, 'a stored reading') });
    }
  }
  return { written: written.subarray(0, writtenCount), late, duplicates, rejected };
}

function rejectionOf(readings: Readings, i: number): Pick<Rejection, 'stream' | 'sub'> {
  const sub = readings.sub(i);
  return { stream: readings.stream[i]!, ...(sub ? { sub } : {}) };
}

function conflictDetail(readings: Readings, i: number, other: string): string {
  const r = readings.record(i);
  return `source ${r.source}, fact ${r.fact}, ts ${r.ts}: same identity as ${other}, with a different id or value`;
}
