/**
 * A record in the exact form encodeRecord writes (keys in schema order, no whitespace, ASCII, no
 * escapes), read straight from its bytes: no text of the whole record, no JSON.parse. Returns the
 * record only when JSON.parse and the schema certainly give this same record; anything else returns
 * undefined and takes the general path (record.ts), so rejections and their reasons stay the
 * contract's. Being stricter than the schema is safe; being looser is not: tighten this whenever
 * TelemetryRecordSchema tightens. test/unit/canonicalRecord.property.test.ts holds the two paths
 * to the same answers.
 */
import { daysFromCivil, daysInMonth } from './civilDate.ts';
import { seriesKey } from './reading.ts';
import type { FactValue, TelemetryRecord } from './record.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;
const MAX_ID = 128;
const MAX_NAME = 64;
const MAX_TS = 64;
const MINUTE_PREFIX = 17;

/** The bytes between the values, in the order encodeRecord writes the keys. */
const ascii = (s: string) => Buffer.from(s, 'latin1');
const BEFORE_ID = ascii('{"v":1,"id":"');
const BEFORE_SOURCE = ascii('","source":"');
const BEFORE_FACT = ascii('","fact":"');
const BEFORE_TS = ascii('","ts":"');
const BEFORE_VALUE = ascii('","value":');
const TRUE = ascii('true');
const FALSE = ascii('false');

/** NAME_PATTERN's character class, as a byte table. */
const NAME_BYTE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-') NAME_BYTE[c.charCodeAt(0)] = 1;

/**
 * Where scanCanonical found each field of a canonical record, and what it read: valid until its
 * next call (one object for every record, so that reading a batch makes none).
 */
export interface CanonicalScan {
  idAt: number;
  idEnd: number;
  source: string;
  fact: string;
  /** seriesKey(source, fact). */
  series: string;
  tsAt: number;
  tsEnd: number;
  /** The event time in epoch microseconds when `ts` is UTC ("Z"), as instantMicros reads it; NaN for another offset. */
  us: number;
  /** The value's JSON text is [valueAt, valueEnd); a string's characters are [valueAt + 1, valueEnd - 1). */
  valueAt: number;
  valueEnd: number;
  kind: 'number' | 'boolean' | 'string';
  /** A number's value, a boolean's as 0 or 1; NaN for a string. */
  numeric: number;
}

const scan: CanonicalScan = { idAt: 0, idEnd: 0, source: '', fact: '', series: '', tsAt: 0, tsEnd: 0, us: Number.NaN, valueAt: 0, valueEnd: 0, kind: 'number', numeric: 0 };

/**
 * The fields of `b` when it is a canonical record that JSON.parse and the schema certainly accept,
 * located and checked (`ts` by zod's pattern, `datetime`, unless it is UTC, which is read and
 * checked from its bytes); else undefined. Makes no string but the names (known ones cost nothing).
 */
export function scanCanonical(b: Buffer, datetime: RegExp): CanonicalScan | undefined {
  const last = b.length - 1;
  if (b[last] !== CLOSE_BRACE || !literalAt(b, 0, BEFORE_ID)) return undefined;
  const idAt = BEFORE_ID.length;
  const idEnd = plainStringEnd(b, idAt, MAX_ID);
  if (idEnd <= idAt || !literalAt(b, idEnd, BEFORE_SOURCE)) return undefined;
  const sourceAt = idEnd + BEFORE_SOURCE.length;
  const sourceEnd = nameEnd(b, sourceAt);
  if (sourceEnd < 0 || !literalAt(b, sourceEnd, BEFORE_FACT)) return undefined;
  const sourceHash = nameHash;
  const factAt = sourceEnd + BEFORE_FACT.length;
  const factEnd = nameEnd(b, factAt);
  if (factEnd < 0 || !literalAt(b, factEnd, BEFORE_TS)) return undefined;
  const series = seriesNamed(b, sourceAt, sourceEnd, sourceHash, factAt, factEnd, nameHash);
  const tsAt = factEnd + BEFORE_TS.length;
  const tsEnd = plainStringEnd(b, tsAt, MAX_TS);
  if (tsEnd < 0 || !literalAt(b, tsEnd, BEFORE_VALUE)) return undefined;
  const us = utcMicros(b, tsAt, tsEnd);
  if (Number.isNaN(us) && !datetime.test(b.toString('latin1', tsAt, tsEnd))) return undefined;
  const valueAt = tsEnd + BEFORE_VALUE.length;
  if (!valueBetween(b, valueAt, last)) return undefined;
  scan.idAt = idAt;
  scan.idEnd = idEnd;
  scan.source = series.source;
  scan.fact = series.fact;
  scan.series = series.key;
  scan.tsAt = tsAt;
  scan.tsEnd = tsEnd;
  scan.us = us;
  scan.valueAt = valueAt;
  scan.valueEnd = last;
  return scan;
}

/** The record scanCanonical finds in `b`, if any. */
export function canonicalRecord(b: Buffer, datetime: RegExp): TelemetryRecord | undefined {
  const s = scanCanonical(b, datetime);
  return s && recordOfScan(b, s);
}

/** The record whose fields scanCanonical just found in `b`. */
export function recordOfScan(b: Buffer, s: CanonicalScan): TelemetryRecord {
  const value: FactValue = s.kind === 'string' ? b.toString('latin1', s.valueAt + 1, s.valueEnd - 1) : s.kind === 'boolean' ? s.numeric === 1 : s.numeric;
  return { v: 1, id: b.toString('latin1', s.idAt, s.idEnd), source: s.source, fact: s.fact, ts: b.toString('latin1', s.tsAt, s.tsEnd), value };
}

/**
 * Series met before, by a hash of their names' bytes. A batch repeats a few hundred series
 * thousands of times; a series read again is the same strings, so it costs no allocation, their
 * hashes for the maps of ingest are computed once, and the collector has less to copy.
 */
interface KnownSeries {
  source: string;
  fact: string;
  key: string;
}
const knownSeries = new Map<number, KnownSeries>();
const MAX_SERIES = 16_384;

function seriesNamed(b: Buffer, sourceAt: number, sourceEnd: number, sourceHash: number, factAt: number, factEnd: number, factHash: number): KnownSeries {
  const hash = Math.imul(sourceHash, 0x01000193) ^ factHash;
  const known = knownSeries.get(hash);
  if (known !== undefined && spells(b, sourceAt, sourceEnd, known.source) && spells(b, factAt, factEnd, known.fact)) return known;
  const source = b.toString('latin1', sourceAt, sourceEnd);
  const fact = b.toString('latin1', factAt, factEnd);
  const named = { source, fact, key: seriesKey(source, fact) };
  if (knownSeries.size >= MAX_SERIES) knownSeries.clear();
  knownSeries.set(hash, named);
  return named;
}

/** Whether [at, end) holds exactly the bytes of `s`. */
function spells(b: Buffer, at: number, end: number, s: string): boolean {
  if (end - at !== s.length) return false;
  for (let k = 0; k < s.length; k++) if (b[at + k] !== s.charCodeAt(k)) return false;
  return true;
}

/**
 * Whether [at, end) is exactly a JSON value the schema takes (a plain string of at most 256
 * characters, a boolean or a finite number); its kind and numeric value go to `scan`.
 */
function valueBetween(b: Buffer, at: number, end: number): boolean {
  const first = b[at];
  if (first === QUOTE) {
    scan.kind = 'string';
    scan.numeric = Number.NaN;
    return plainStringEnd(b, at + 1, 256) === end - 1;
  }
  if (first === 0x74 /* t */ || first === 0x66 /* f */) {
    const literal = first === 0x74 ? TRUE : FALSE;
    scan.kind = 'boolean';
    scan.numeric = first === 0x74 ? 1 : 0;
    return end - at === literal.length && literalAt(b, at, literal);
  }
  scan.kind = 'number';
  scan.numeric = jsonNumber(b, at, end);
  return Number.isFinite(scan.numeric);
}

function literalAt(b: Buffer, at: number, literal: Buffer): boolean {
  if (at + literal.length > b.length) return false;
  for (let k = 0; k < literal.length; k++) if (b[at + k] !== literal[k]) return false;
  return true;
}

/**
 * Where the string starting at `at` closes, when it is printable ASCII without escapes and at most
 * `max` characters (then its bytes are its text: no NUL, no lone surrogate); else -1.
 */
function plainStringEnd(b: Buffer, at: number, max: number): number {
  const end = Math.min(b.length, at + max + 1);
  for (let i = at; i < end; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}

/** FNV-1a of the bytes the last nameEnd scanned (a second result without an object per call). */
let nameHash = 0;

/** Where a NAME_PATTERN string starting at `at` closes, or -1; its hash in nameHash. */
function nameEnd(b: Buffer, at: number): number {
  const end = Math.min(b.length, at + MAX_NAME + 1);
  let h = 0x811c9dc5;
  for (let i = at; i < end; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      nameHash = h;
      return i > at ? i : -1;
    }
    if (NAME_BYTE[c] !== 1) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return -1;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/** The number written by the digits in [at, to), or NaN if one is not a digit. */
function digitsAt(b: Buffer, at: number, to: number): number {
  let n = 0;
  for (let i = at; i < to; i++) {
    const d = b[i]! - 0x30;
    if (!(d >= 0 && d <= 9)) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` in [at, end) as epoch microseconds (fraction digits past the
 * sixth dropped, as instantMicros does), with zod's ranges: a real day of the month, hours to 23,
 * minutes and seconds to 59; NaN for anything else (another offset goes to the pattern).
 */
function utcMicros(b: Buffer, at: number, end: number): number {
  if (end - at < 20) return Number.NaN;
  const minuteUs = minuteAt(b, at);
  const second = digitsAt(b, at + 17, at + 19);
  // NaN fails the comparison.
  if (!(second <= 59)) return Number.NaN;
  let i = at + 19;
  let micro = 0;
  if (b[i] === 0x2e /* . */) {
    const from = ++i;
    for (let scale = 100_000; i < end && isDigit(b[i]); i++, scale /= 10) if (scale >= 1) micro += (b[i]! - 0x30) * scale;
    if (i === from) return Number.NaN;
  }
  if (i !== end - 1 || b[i] !== 0x5a /* Z */) return Number.NaN;
  return minuteUs + second * 1_000_000 + micro;
}

/**
 * The last minute minuteAt read ("YYYY-MM-DDTHH:MM:") and its epoch microseconds: a batch's
 * readings fall in a few minutes, so most are read by comparing 17 bytes.
 */
const lastMinute = Buffer.alloc(MINUTE_PREFIX);
let lastMinuteUs = Number.NaN;

/** The minute `YYYY-MM-DDTHH:MM:` at `at` names, in epoch microseconds, with zod's ranges; NaN if none. */
function minuteAt(b: Buffer, at: number): number {
  if (literalAt(b, at, lastMinute)) return lastMinuteUs;
  if (b[at + 4] !== 0x2d || b[at + 7] !== 0x2d || b[at + 10] !== 0x54 || b[at + 13] !== 0x3a || b[at + 16] !== 0x3a) return Number.NaN;
  const year = digitsAt(b, at, at + 4);
  const month = digitsAt(b, at + 5, at + 7);
  const day = digitsAt(b, at + 8, at + 10);
  const hour = digitsAt(b, at + 11, at + 13);
  const minute = digitsAt(b, at + 14, at + 16);
  // NaN fails every comparison below.
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59)) return Number.NaN;
  b.copy(lastMinute, 0, at, at + MINUTE_PREFIX);
  lastMinuteUs = (daysFromCivil(year, month, day) * 86_400 + hour * 3_600 + minute * 60) * 1_000_000;
  return lastMinuteUs;
}

/** 10^0 .. 10^22: every one exact in a double (from their text: correctly rounded, hence exact). */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const MAX_EXACT_DIGITS = 15;

/**
 * The number written in [at, end) when it follows JSON's grammar exactly
 * (-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?), else NaN; JSON.parse's value, to the bit. A number of at
 * most 15 significant digits, no exponent and at most 22 fraction digits is its digits as an
 * integer over a power of ten, both exact in a double, so one correctly rounded division gives the
 * correctly rounded value (Clinger's fast path, as V8's own conversion takes it) with no text made;
 * any other number goes through the same conversion JSON.parse uses, from its text.
 */
function jsonNumber(b: Buffer, at: number, end: number): number {
  let i = at;
  const negative = b[i] === 0x2d; /* - */
  if (negative) i++;
  let digits = 0;
  let significand = 0;
  if (b[i] === 0x30 /* 0 */) i++;
  else if (isDigit(b[i])) for (; i < end && isDigit(b[i]); i++, digits++) significand = significand * 10 + (b[i]! - 0x30);
  else return Number.NaN;
  let fraction = 0;
  if (i < end && b[i] === 0x2e /* . */) {
    const from = ++i;
    for (; i < end && isDigit(b[i]); i++) {
      significand = significand * 10 + (b[i]! - 0x30);
      // Significant digits start at the first one that is not zero.
      if (significand !== 0) digits++;
    }
    fraction = i - from;
    if (fraction === 0) return Number.NaN;
  }
  let exponent = false;
  if (i < end && (b[i] === 0x65 || b[i] === 0x45) /* e E */) {
    exponent = true;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    const from = i;
    while (i < end && isDigit(b[i])) i++;
    if (i === from) return Number.NaN;
  }
  if (i !== end) return Number.NaN;
  if (exponent || digits > MAX_EXACT_DIGITS || fraction >= EXACT_POWERS_OF_TEN.length) return Number(b.toString('latin1', at, end));
  const magnitude = fraction === 0 ? significand : significand / EXACT_POWERS_OF_TEN[fraction]!;
  return negative ? -magnitude : magnitude;
}
