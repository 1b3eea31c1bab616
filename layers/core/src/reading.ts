import type { CanonicalScan } from './canonicalRecord.ts';
import type { FactValue } from './record.ts';

/*
 * A reading's identity is (source, fact, event time in microseconds): the raw table's unique key.
 * A producer's resend carries the same identity; so does a device clock collision, which is told
 * apart by the fingerprint of what the reading says (its id and value).
 */

/** Kinesis sequence numbers are decimal strings of up to 128 digits: compare by length, then text. */
export function compareSequence(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export const MINUTE_US = 60_000_000;

export const minuteOf = (tsUs: number): number => tsUs - (((tsUs % MINUTE_US) + MINUTE_US) % MINUTE_US);

/** One string per series, for maps: names match NAME_PATTERN, so the separator cannot occur in them. */
export const seriesKey = (source: string, fact: string): string => `${source}\u0000${fact}`;

export const sourceOfSeries = (series: string): string => series.slice(0, series.indexOf('\u0000'));
export const factOfSeries = (series: string): string => series.slice(series.indexOf('\u0000') + 1);

const seriesKeys = new Map<string, Map<string, string>>();
const MAX_CACHED_SOURCES = 4_096;

/** seriesKey, the same string each time a series comes again: one key per series, not per reading. */
export function cachedSeriesKey(source: string, fact: string): string {
  let byFact = seriesKeys.get(source);
  if (!byFact) {
    if (seriesKeys.size >= MAX_CACHED_SOURCES) seriesKeys.clear();
    seriesKeys.set(source, (byFact = new Map<string, string>()));
  }
  let key = byFact.get(fact);
  if (key === undefined) byFact.set(fact, (key = seriesKey(source, fact)));
  return key;
}

/**
 * 32-bit FNV-1a of the reading's id and typed value. Equal identities with equal fingerprints are
 * a resend; with different fingerprints, two readings that disagree (a conflict). Two different
 * readings share a fingerprint with probability 2^-32, and only matters when their identities are
 * also equal: then the second is counted as a duplicate instead of a conflict.
 */
export function fingerprint(id: string, value: FactValue): number {
  const h = mixString(FNV_OFFSET, id);
  if (typeof value === 'string') return mixString(Math.imul(h ^ 0x73 /* s */, FNV_PRIME), value) >>> 0;
  return mixScalar(h, value);
}

/** fingerprint of a canonical record from its bytes: there a character is its byte (printable ASCII, no escapes). */
export function fingerprintOfScan(b: Uint8Array, s: CanonicalScan): number {
  const h = mixBytes(FNV_OFFSET, b, s.idAt, s.idEnd);
  if (s.kind === 'string') return mixBytes(Math.imul(h ^ 0x73 /* s */, FNV_PRIME), b, s.valueAt + 1, s.valueEnd - 1) >>> 0;
  return mixScalar(h, s.kind === 'boolean' ? s.numeric === 1 : s.numeric);
}

function mixScalar(h: number, value: number | boolean): number {
  if (typeof value === 'boolean') return Math.imul(h ^ (value ? 0x62 : 0x42), FNV_PRIME) >>> 0;
  // A number by its IEEE-754 bits: no text formatting per reading. +0 and -0 are one value (JSON has no -0).
  NUMBER[0] = value === 0 ? 0 : value;
  h = Math.imul(h ^ 0x6e /* n */, FNV_PRIME);
  h = Math.imul(h ^ NUMBER_WORDS[0]!, FNV_PRIME);
  return Math.imul(h ^ NUMBER_WORDS[1]!, FNV_PRIME) >>> 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const NUMBER = new Float64Array(1);
const NUMBER_WORDS = new Uint32Array(NUMBER.buffer);

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return Math.imul(h, FNV_PRIME); // a separator, so ("ab", "c") and ("a", "bc") differ
}

function mixBytes(h: number, b: Uint8Array, at: number, end: number): number {
  for (let i = at; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return Math.imul(h, FNV_PRIME);
}

/** A sample as a merged row keeps it: microseconds past the row's minute, and its fingerprint. */
export interface Sample {
  offsetUs: number;
  fp: number;
}

/** 8 bytes per sample, big-endian (offset, fingerprint), sorted by offset: see migration 0005. */
export function encodeSamples(offsets: ArrayLike<number>, fps: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(offsets.length * 8);
  const put = (k: number, i: number) => {
    buf.writeUInt32BE(offsets[i]!, k * 8);
    buf.writeUInt32BE(fps[i]!, k * 8 + 4);
  };
  if (isAscending(offsets)) for (let i = 0; i < offsets.length; i++) put(i, i);
  else
    Array.from({ length: offsets.length }, (_, i) => i)
      .sort((a, b) => offsets[a]! - offsets[b]!)
      .forEach((i, k) => put(k, i));
  return buf;
}

function isAscending(xs: ArrayLike<number>): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[i - 1]!) return false;
  return true;
}

export function decodeSamples(buf: Uint8Array): Sample[] {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Sample[] = [];
  for (let i = 0; i + 8 <= view.length; i += 8) out.push({ offsetUs: view.readUInt32BE(i), fp: view.readUInt32BE(i + 4) });
  return out;
}
