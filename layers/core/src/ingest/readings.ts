import { sourceOfSeries } from '../reading.ts';
import { InvalidRecordError, readCanonicalRecord, recordBytes, type DecodedReading, type TelemetryRecord } from '../record.ts';
import type { StreamRecord, SubRecord } from './streamRecord.ts';

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
  /** Each one's place in the KPL aggregate that carried it, where one did. */
  readonly sub: Array<SubRecord | undefined> = [];
  private readonly records: Array<TelemetryRecord | undefined> = [];

  constructor(capacity: number) {
    // Sized up front: grown by push, each was copied over and over while the batch was read.
    this.series = new Array<string>(capacity);
    this.stream = new Array<StreamRecord>(capacity);
    this.tsUs = new Float64Array(capacity);
    this.fp = new Uint32Array(capacity);
    this.numeric = new Float64Array(capacity);
  }

  push(d: Extract<DecodedReading, { ok: true }>, stream: StreamRecord, sub: SubRecord | undefined): void {
    const i = this.length++;
    if (i === this.tsUs.length) this.grow();
    this.tsUs[i] = d.tsUs;
    this.fp[i] = d.fp;
    this.numeric[i] = d.numeric;
    this.series[i] = d.series;
    this.stream[i] = stream;
    if (sub) this.sub[i] = sub;
    if (d.record) this.records[i] = d.record;
  }

  record(i: number): TelemetryRecord {
    let record = this.records[i];
    if (record) return record;
    const sub = this.sub[i];
    const bytes = sub ? Buffer.from(sub.data.buffer, sub.data.byteOffset, sub.data.byteLength) : recordBytes(this.stream[i]!.data);
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
