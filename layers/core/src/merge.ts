import type { FactValue, TelemetryRecord } from './record.ts';

/** A valid record with the stream coordinates that order it. */
export interface SequencedRecord {
  record: TelemetryRecord;
  tsMs: number;
  sequenceNumber: string;
}

/**
 * One row per (source, fact) per batch: the last write wins by event time (tie: the higher
 * sequence number), and count/min/max/avg keep what happened inside the batch so that a spike
 * between two ordinary readings is not lost.
 */
export interface MergedRow {
  source: string;
  fact: string;
  ts: string;
  tsMs: number;
  eventId: string;
  sequenceNumber: string;
  value: FactValue;
  count: number;
  /** Over numeric samples (booleans as 0/1, so avg is a duty cycle); null for state strings. */
  min: number | null;
  max: number | null;
  avg: number | null;
}

interface Accumulator {
  winner: SequencedRecord;
  count: number;
  numeric: number;
  /** Running mean: a plain sum overflows for values near the float8 limits. */
  mean: number;
  min: number;
  max: number;
}

/** Kinesis sequence numbers are decimal strings of up to 128 digits: compare by length, then text. */
export function compareSequence(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

const isNewer = (a: SequencedRecord, b: SequencedRecord): boolean =>
  a.tsMs > b.tsMs || (a.tsMs === b.tsMs && compareSequence(a.sequenceNumber, b.sequenceNumber) > 0);

/** Booleans count as 0/1 so rollups of pump_running or valve_open read as duty cycles. */
export function numericOf(value: FactValue): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

export function mergeBatch(records: readonly SequencedRecord[]): MergedRow[] {
  const byKey = new Map<string, Accumulator>();
  for (const item of records) {
    const { source, fact, value } = item.record;
    const key = `${source}\u0000${fact}`;
    let acc = byKey.get(key);
    if (!acc) {
      acc = { winner: item, count: 0, numeric: 0, mean: 0, min: Infinity, max: -Infinity };
      byKey.set(key, acc);
    } else if (isNewer(item, acc.winner)) {
      acc.winner = item;
    }
    acc.count++;
    const n = numericOf(value);
    if (n !== null) {
      acc.numeric++;
      acc.mean += (n - acc.mean) / acc.numeric;
      if (n < acc.min) acc.min = n;
      if (n > acc.max) acc.max = n;
    }
  }
  const rows: MergedRow[] = [];
  for (const acc of byKey.values()) {
    const hasNumbers = acc.numeric > 0;
    rows.push(rowOf(acc.winner, acc.count, hasNumbers ? acc.min : null, hasNumbers ? acc.max : null, hasNumbers ? acc.mean : null));
  }
  return rows;
}

/** Raw mode: every valid record becomes its own row (for users who need every sample). */
export function rawRows(records: readonly SequencedRecord[]): MergedRow[] {
  return records.map((item) => {
    const n = numericOf(item.record.value);
    return rowOf(item, 1, n, n, n);
  });
}

function rowOf(
  { record, tsMs, sequenceNumber }: SequencedRecord,
  count: number,
  min: number | null,
  max: number | null,
  avg: number | null,
): MergedRow {
  return { source: record.source, fact: record.fact, ts: record.ts, tsMs, eventId: record.id, sequenceNumber, value: record.value, count, min, max, avg };
}
