import type { StreamRecord } from './ingest/streamRecord.ts';
import type { FactValue, TelemetryRecord } from './record.ts';

/**
 * A reading's identity is (source, fact, event time in microseconds): the raw table's unique key.
 * A producer's resend carries the same identity; so does a device clock collision, which is told
 * apart by the fingerprint of what the reading says (its id and value).
 */
export interface Reading {
  record: TelemetryRecord;
  /** Event time, microseconds since the epoch (see instantMicros). */
  tsUs: number;
  /** The stream record that carried it: duplicates are classified and conflicts dead-lettered by it. */
  stream: StreamRecord;
}

/** Kinesis sequence numbers are decimal strings of up to 128 digits: compare by length, then text. */
export function compareSequence(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export const MINUTE_US = 60_000_000;

export const minuteOf = (tsUs: number): number => tsUs - (((tsUs % MINUTE_US) + MINUTE_US) % MINUTE_US);

/** One string per series, for maps: names match NAME_PATTERN, so the separator cannot occur in them. */
export const seriesKey = (source: string, fact: string): string => `${source}\u0000${fact}`;

/**
 * 32-bit FNV-1a of the reading's id and typed value. Equal identities with equal fingerprints are
 * a resend; with different fingerprints, two readings that disagree (a conflict). Two different
 * readings share a fingerprint with probability 2^-32, and only matters when their identities are
 * also equal: then the second is counted as a duplicate instead of a conflict.
 */
export function fingerprint(id: string, value: FactValue): number {
  let h = 0x811c9dc5;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  };
  mix(id);
  h = Math.imul(h ^ 0, 0x01000193);
  mix(typeof value === 'string' ? `s${value}` : typeof value === 'boolean' ? (value ? 'b1' : 'b0') : `n${String(value)}`);
  return h >>> 0;
}

/** A sample as a merged row keeps it: microseconds past the row's minute, and its fingerprint. */
export interface Sample {
  offsetUs: number;
  fp: number;
}

/** 8 bytes per sample, big-endian (offset, fingerprint), sorted by offset: see migration 0005. */
export function encodeSamples(samples: readonly Sample[]): string {
  const sorted = [...samples].sort((a, b) => a.offsetUs - b.offsetUs);
  const buf = Buffer.allocUnsafe(sorted.length * 8);
  sorted.forEach((s, i) => {
    buf.writeUInt32BE(s.offsetUs, i * 8);
    buf.writeUInt32BE(s.fp, i * 8 + 4);
  });
  return buf.toString('base64');
}

export function decodeSamples(base64: string): Sample[] {
  const buf = Buffer.from(base64, 'base64');
  const out: Sample[] = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) out.push({ offsetUs: buf.readUInt32BE(i), fp: buf.readUInt32BE(i + 4) });
  return out;
}
