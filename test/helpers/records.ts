import { decodeBatch } from '#core/ingest/plan';
import type { Readings } from '#core/ingest/readings';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { mergeReadings, rawRows, type MergedRow } from '#core/merge';
import type { TelemetryRecord } from '#core/record';

let counter = 0;

/**
 * 30 s into the minute before last: offsets within +-29 s keep a test's readings in one minute
 * (merged rows never cross one), and the instant is inside the default validity window.
 */
export const BASE_MS = Math.floor(Date.now() / 60_000) * 60_000 - 90_000;

/** A valid telemetry record stamped `offsetMs` from BASE_MS; override any field. */
export function telemetry(over: Partial<TelemetryRecord> = {}, offsetMs = 0): TelemetryRecord {
  return {
    v: 1,
    id: `t-${++counter}`,
    source: 'FBE_01',
    fact: 'temperature_c',
    ts: new Date(BASE_MS + offsetMs).toISOString(),
    value: 20,
    ...over,
  };
}

/** The stream record that would carry `record` at this sequence number (shard 0, key = source). */
export function streamRecord(record: TelemetryRecord | string, sequenceNumber: string | number, over: Partial<StreamRecord> = {}): StreamRecord {
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber: String(sequenceNumber),
    partitionKey: typeof record === 'string' ? 'unknown' : record.source,
    approximateArrivalTimestamp: BASE_MS / 1000,
    eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/tapline-local-telemetry',
    data: typeof record === 'string' ? record : base64(record),
    ...over,
  };
}

/** Records as ingest's plan sees them once decoded (any event time accepted), and every one's index. */
function readingsOf(records: readonly TelemetryRecord[]): { readings: Readings; all: number[] } {
  const { readings, rejected } = decodeBatch(
    records.map((r) => streamRecord(r, ++counter)),
    Date.now(),
    { maxPastSeconds: 1e9, maxFutureSeconds: 1e9 },
  );
  if (rejected.length > 0) throw new Error(`not a valid reading: ${rejected[0]!.detail}`);
  return { readings, all: Array.from({ length: readings.length }, (_, i) => i) };
}

/** The rows ingest's merge makes of these records, decoded as ingest decodes them. */
export function mergedRows(records: readonly TelemetryRecord[], maxSamplesPerRow?: number): MergedRow[] {
  const { readings, all } = readingsOf(records);
  return mergeReadings(readings, all, maxSamplesPerRow);
}

/** The rows raw mode makes of these records. */
export function rawRowsOf(records: readonly TelemetryRecord[]): MergedRow[] {
  const { readings, all } = readingsOf(records);
  return rawRows(readings, all);
}

export const base64 = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');
