import { sourceOfSeries } from '../reading.ts';
import { InvalidRecordError, readCanonicalRecord, recordBytes, type DecodedReading, type TelemetryRecord } from '../record.ts';
import type { UserRecord } from '../kpl/format.ts';
import { subRecordOf, type InAggregate, type StreamRecord, type SubRecord } from './streamRecord.ts';

/**
 * The valid readings of a batch, in batch order, column by column: what ingest decides with (series,
 * event time, fingerprint, numeric value) in typed arrays and interned strings, and the record
 * itself only for the few readings that need it (a merged row's newest, a dead letter's detail,
 * raw mode's rows), read again from the bytes the stream record still holds. A record object per
 * reading lived until the batch was merged, and the collector copied each one at every scavenge.
 */
export class Readings {
  length = 0;
  /** Event time, microseconds since the epoch (see instantMicros). */
  tsUs: Float64Array;
  /** fingerprint(id, value) (reading.ts). */
  fp: Uint32Array;
  /** The value as count/min/max/avg take it (booleans 0/1), NaN for a string. */
  numeric: Float64Array;
  /** seriesKey(source, fact), one string per series. */
  readonly series: string[];
  /** The stream record that carried each: duplicates are classified and conflicts dead-lettered by it. */
  readonly stream: StreamRecord[];
  /** The user record of a KPL aggregate that carried each, where one did, and its place in it. */
  private readonly userRecords: Array<UserRecord | undefined> = [];
  private readonly subSequence: number[] = [];
  private readonly records: Array<TelemetryRecord | undefined> = [];

  constructor(capacity: number) {
    // Sized up front: grown by push, each was copied over and over while the batch was read.
    this.series = new Array<string>(capacity);
    this.stream = new Array<StreamRecord>(capacity);
    this.tsUs = new Float64Array(capacity);
    this.fp = new Uint32Array(capacity);
    this.numeric = new Float64Array(capacity);
  }

  push(d: Extract<DecodedReading, { ok: true }>, stream: StreamRecord, user?: InAggregate): void {
    const i = this.length++;
    if (i === this.tsUs.length) this.grow();
    this.tsUs[i] = d.tsUs;
    this.fp[i] = d.fp;
    this.numeric[i] = d.numeric;
    this.series[i] = d.series;
    this.stream[i] = stream;
    if (user) {
      this.userRecords[i] = user.record;
      this.subSequence[i] = user.subSequenceNumber;
    }
    if (d.record) this.records[i] = d.record;
  }

  /** Reading i's place in the KPL aggregate that carried it, if one did (made when asked: a few per batch are). */
  sub(i: number): SubRecord | undefined {
    const record = this.userRecords[i];
    return record && subRecordOf({ record, subSequenceNumber: this.subSequence[i]! });
  }

  record(i: number): TelemetryRecord {
    let record = this.records[i];
    if (record) return record;
    const user = this.userRecords[i];
    const bytes = user ? Buffer.from(user.data.buffer, user.data.byteOffset, user.data.byteLength) : recordBytes(this.stream[i]!.data);
    if (bytes instanceof InvalidRecordError) throw bytes;
    this.records[i] = record = readCanonicalRecord(bytes);
    return record;
  }

  /** The sources of the readings. */
  sources(): Set<string> {
    const series = new Set<string>();
    for (let i = 0; i < this.length; i++) series.add(this.series[i]!);
    return new Set([...series].map(sourceOfSeries));
  }

  private grow(): void {
    const double = <T extends Float64Array | Uint32Array>(a: T, next: T): T => (next.set(a), next);
    const size = Math.max(16, this.tsUs.length * 2);
    this.tsUs = double(this.tsUs, new Float64Array(size));
    this.fp = double(this.fp, new Uint32Array(size));
    this.numeric = double(this.numeric, new Float64Array(size));
  }
}
