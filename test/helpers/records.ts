import type { TelemetryRecord } from '#core/record';
import type { SequencedRecord } from '#core/merge';

let counter = 0;

/** A valid telemetry record stamped `offsetMs` from now; override any field. */
export function telemetry(over: Partial<TelemetryRecord> = {}, offsetMs = 0): TelemetryRecord {
  return {
    v: 1,
    id: `t-${++counter}`,
    source: 'FBE_01',
    fact: 'temperature_c',
    ts: new Date(Date.now() + offsetMs).toISOString(),
    value: 20,
    ...over,
  };
}

export function sequenced(record: TelemetryRecord, sequenceNumber: string | number): SequencedRecord {
  return { record, tsMs: Date.parse(record.ts), sequenceNumber: String(sequenceNumber) };
}

export const base64 = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');
