import * as z from 'zod';
import { canonicalRecord, recordOfScan, scanCanonical } from './canonicalRecord.ts';
import { cachedSeriesKey, fingerprint, fingerprintOfScan } from './reading.ts';
import { daysFromCivil } from './civilDate.ts';
import { firstIssue } from './json.ts';

/**
 * The wire contract between producers and the ingest function. One module, used by the
 * simulator to encode and by ingest to decode, so both sides cannot drift apart.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const MAX_STRING_VALUE = 256;
export const MAX_RECORD_BYTES = 4_096;

// PostgreSQL text cannot hold NUL, and jsonb rejects lone surrogates: such strings would pass JSON
// parsing and then fail the whole batch's write, so they are rejected here as invalid input.
const storable = (s: string): boolean => !s.includes('\u0000') && s.isWellFormed();
/** A string PostgreSQL can store as text: the rule every free-text field of a message follows. */
export const storableText = (max: number) => z.string().max(max).refine(storable, 'contains NUL or a lone surrogate');
const storableString = storableText(MAX_STRING_VALUE);

export const TelemetryRecordSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().min(1).max(128).refine(storable, 'contains NUL or a lone surrogate'),
  source: z.string().regex(NAME_PATTERN),
  fact: z.string().regex(NAME_PATTERN),
  ts: z.iso.datetime({ offset: true }),
  value: z.union([z.number().finite(), z.boolean(), storableString]),
});

export type TelemetryRecord = z.infer<typeof TelemetryRecordSchema>;
export type FactValue = TelemetryRecord['value'];

/** A value as count/min/max/avg take it: booleans count as 0/1, so rollups of pump_running or valve_open read as duty cycles. */
export function numericOf(value: FactValue): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

/** Stable reason codes: dashboards, DLQ entries and redrive tooling key on these strings. */
export const INVALID_REASONS = ['not_base64', 'too_large', 'not_utf8', 'not_json', 'schema', 'ts_out_of_range'] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/**
 * Why ingest dead-letters a record: the contract's reasons, `identity_conflict` for a valid reading
 * whose identity (source, fact, ts) is already stored with a different id or value, and
 * `bad_aggregate` for a KPL aggregate that cannot be unpacked (bad MD5, bad protobuf), set aside whole.
 */
export const DEAD_LETTER_REASONS = [...INVALID_REASONS, 'identity_conflict', 'bad_aggregate'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export class InvalidRecordError extends Error {
  override readonly name = 'InvalidRecordError';
  constructor(
    readonly reason: InvalidReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

export interface TimeWindow {
  maxPastSeconds: number;
  maxFutureSeconds: number;
}

export type Decoded =
  { ok: true; record: TelemetryRecord; /** The event time in microseconds since the epoch (see instantMicros). */ tsUs: number } | { ok: false; error: InvalidRecordError };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// One buffer for every record's bytes: a Buffer per record was a tenth of the decode time in GC.
const scratch = Buffer.allocUnsafe(MAX_RECORD_BYTES);
// Its first n bytes as a Buffer, one view per length: a new view per record cost a fifth of reading it.
const scratchViews: Buffer[] = [];

/**
 * Decode one Kinesis `data` field holding one record (see kpl/ for aggregates). Never throws: every
 * outcome is a value the batch can account for.
 */
export function decodeRecord(data: string, nowMs: number, window: TimeWindow): Decoded {
  const bytes = recordBytes(data);
  return bytes instanceof InvalidRecordError ? { ok: false, error: bytes } : decodeRecordBytes(bytes, nowMs, window);
}

/** A record's bytes decoded, as a whole record. */
export function decodeRecordBytes(bytes: Buffer, nowMs: number, window: TimeWindow): Decoded {
  const d = decodeReading(bytes, nowMs, window, true);
  return d.ok ? { ok: true, record: d.record!, tsUs: d.tsUs } : d;
}

/**
 * The bytes a Kinesis `data` field holds when it is canonical base64 and not too large, in a buffer
 * the next call reuses; else why not.
 */
export function recordBytes(data: string): Buffer | InvalidRecordError {
  if (data.length % 4 !== 0) return notBase64();
  // What canonical base64 of this length decodes to.
  const byteLength = (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  if (byteLength > MAX_RECORD_BYTES) return BASE64.test(data) ? new InvalidRecordError('too_large', `${byteLength} bytes > ${MAX_RECORD_BYTES}`) : notBase64();
  // Node's decoder skips what is not in its alphabet and stops at a '=' inside the text, so exactly
  // canonical base64 decodes to that length, once the two letters of base64url that it also reads
  // are ruled out. A scan of the text by a pattern cost about a fifth of the decode.
  const written = scratch.write(data, 'base64');
  if (written !== byteLength || data.includes('-') || data.includes('_')) return notBase64();
  return (scratchViews[written] ??= scratch.subarray(0, written));
}

const notBase64 = () => new InvalidRecordError('not_base64', 'data is not canonical base64');

/**
 * What ingest keeps of a valid record: its series, event time, fingerprint and numeric value. The
 * record itself comes along only when its bytes are not canonical; a canonical one is read again
 * from its bytes (readCanonicalRecord) for the few readings that need it, so that a batch of them
 * leaves no strings or objects per reading for the collector to copy. A valid one is one object
 * for every call, valid until the next (a result per record, with three boxed doubles, was a
 * quarter of what ingest allocated per batch).
 */
export type DecodedReading =
  | {
      ok: true;
      /** seriesKey(source, fact), one string per series (interned). */
      series: string;
      /** The event time in microseconds since the epoch (see instantMicros). */
      tsUs: number;
      /** fingerprint(id, value), see reading.ts. */
      fp: number;
      /** The value as count/min/max/avg take it (numericOf), NaN for a string. */
      numeric: number;
      record: TelemetryRecord | undefined;
    }
  | { ok: false; error: InvalidRecordError };

/**
 * Decode a record's bytes (a user record unpacked from a KPL aggregate, or a plain record's data);
 * `withRecord`: make the record of canonical bytes too (raw mode stores every one).
 */
export function decodeReading(bytes: Buffer, nowMs: number, window: TimeWindow, withRecord = false): DecodedReading {
  if (bytes.length > MAX_RECORD_BYTES) return invalid('too_large', `${bytes.length} bytes > ${MAX_RECORD_BYTES}`);
  const scanned = DATETIME && scanCanonical(bytes, DATETIME);
  if (scanned) {
    const ts = () => bytes.toString('latin1', scanned.tsAt, scanned.tsEnd);
    const tsUs = Number.isNaN(scanned.us) ? instantMicros(ts()) : scanned.us;
    if (!withinWindow(tsUs, nowMs, window)) return outOfWindow(ts(), window);
    return reading(scanned.series, tsUs, fingerprintOfScan(bytes, scanned), scanned.numeric, withRecord ? recordOfScan(bytes, scanned) : undefined);
  }
  const record = parseRecord(bytes);
  if (record instanceof InvalidRecordError) return { ok: false, error: record };
  const tsUs = instantMicros(record.ts);
  if (!withinWindow(tsUs, nowMs, window)) return outOfWindow(record.ts, window);
  const { source, fact, id, value } = record;
  return reading(cachedSeriesKey(source, fact), tsUs, fingerprint(id, value), numericOf(value) ?? Number.NaN, record);
}

const decoded: Extract<DecodedReading, { ok: true }> = { ok: true, series: '', tsUs: 0, fp: 0, numeric: 0, record: undefined };

function reading(series: string, tsUs: number, fp: number, numeric: number, record: TelemetryRecord | undefined): DecodedReading {
  decoded.series = series;
  decoded.tsUs = tsUs;
  decoded.fp = fp;
  decoded.numeric = numeric;
  decoded.record = record;
  return decoded;
}

/** The record of bytes that decodeReading read as canonical (it returned no record for them). */
export function readCanonicalRecord(bytes: Buffer): TelemetryRecord {
  const record = DATETIME && canonicalRecord(bytes, DATETIME);
  if (!record) throw new Error('bytes read as a canonical record no longer are one');
  return record;
}

const withinWindow = (tsUs: number, nowMs: number, window: TimeWindow): boolean =>
  tsUs >= (nowMs - window.maxPastSeconds * 1000) * 1000 && tsUs <= (nowMs + window.maxFutureSeconds * 1000) * 1000;

const outOfWindow = (ts: string, window: TimeWindow) => invalid('ts_out_of_range', `${ts} outside [now-${window.maxPastSeconds}s, now+${window.maxFutureSeconds}s]`);

/** The general path: any UTF-8 JSON the contract may accept, with zod deciding what it rejects. */
function parseRecord(bytes: Buffer): TelemetryRecord | InvalidRecordError {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return new InvalidRecordError('not_utf8', 'payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return new InvalidRecordError('not_json', (e as Error).message.slice(0, 200));
  }
  const record = wellFormedRecord(json);
  if (record) return record;
  const parsed = TelemetryRecordSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  return new InvalidRecordError('schema', firstIssue(parsed.error));
}

/**
 * The instant a contract-valid `ts` names, in whole microseconds since the epoch (PostgreSQL's
 * precision): the offset applied, fraction digits past the sixth dropped (truncated, never rounded,
 * so an instant never moves into the next second, minute or day). Epoch microseconds stay exact
 * in a double until the year 2255. Read by position (the schema's pattern fixed the layout):
 * Date.parse misreads fractions of more than ten digits, and costs more.
 */
export function instantMicros(ts: string): number {
  let i = 19;
  let micro = 0;
  if (ts.charCodeAt(i) === 46 /* . */) {
    i++;
    for (let scale = 100_000; i < ts.length; i++, scale /= 10) {
      const d = ts.charCodeAt(i) - 48;
      if (!(d >= 0 && d <= 9)) break;
      if (scale >= 1) micro += d * scale;
    }
  }
  const zone = ts.charCodeAt(i);
  const offsetMinutes = zone === 90 /* Z */ ? 0 : (zone === 45 /* - */ ? -1 : 1) * (digits(ts, i + 1, i + 3) * 60 + digits(ts, i + 4, i + 6));
  const seconds =
    daysFromCivil(digits(ts, 0, 4), digits(ts, 5, 7), digits(ts, 8, 10)) * 86_400 + digits(ts, 11, 13) * 3_600 + digits(ts, 14, 16) * 60 + digits(ts, 17, 19) - offsetMinutes * 60;
  return seconds * 1_000_000 + micro;
}

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
}

/**
 * The text PostgreSQL gets for an event time: the producer's own when PostgreSQL reads it as the
 * same instant (UTC, at most six fraction digits), else the instant written out in UTC. PostgreSQL
 * refuses offsets past +-15:59 and rounds fractions past microseconds, so those never reach it.
 */
export function storedTs(ts: string, tsUs: number): string {
  if (ts.length <= 27 && ts.endsWith('Z')) return ts;
  const micro = String(((tsUs % 1000) + 1000) % 1000).padStart(3, '0');
  return `${new Date(Math.floor(tsUs / 1000)).toISOString().slice(0, 23)}${micro}Z`;
}

// zod's own ISO datetime pattern for this field, so the check below cannot drift from the schema.
const DATETIME: RegExp | undefined = TelemetryRecordSchema.shape.ts._zod.def.pattern;
const RECORD_KEYS = ['v', 'id', 'source', 'fact', 'ts', 'value'] as const;

/**
 * The schema's checks written out by hand: per record a zod parse costs about as much as base64 and
 * JSON.parse together, and nearly every record is valid. Returns the record only when the schema
 * certainly accepts it (same object shape, same key order as zod's output); anything else goes to
 * zod, so rejections and their messages are exactly zod's. Being stricter than the schema is safe
 * (zod decides); being looser is not: tighten this whenever TelemetryRecordSchema tightens. Ids
 * are held to the storable-string rule already, so a stricter id in the schema cannot slip past.
 */
function wellFormedRecord(json: unknown): TelemetryRecord | undefined {
  if (DATETIME === undefined || typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const o = json as Record<string, unknown>;
  const keys = Object.keys(o);
  // Keys in zod's output order (as encodeRecord writes them): the parsed object itself is that output.
  const inOrder = keys.length === RECORD_KEYS.length && keys.every((k, i) => k === RECORD_KEYS[i]);
  if (!inOrder && (keys.length !== RECORD_KEYS.length || !RECORD_KEYS.every((k) => Object.hasOwn(o, k)))) return undefined;
  const { v, id, source, fact, ts, value } = o;
  if (v !== 1) return undefined;
  if (typeof id !== 'string' || id.length < 1 || id.length > 128 || !isStorable(id)) return undefined;
  if (typeof source !== 'string' || !NAME_PATTERN.test(source)) return undefined;
  if (typeof fact !== 'string' || !NAME_PATTERN.test(fact)) return undefined;
  if (typeof ts !== 'string' || !DATETIME.test(ts)) return undefined;
  const valueOk =
    (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_STRING_VALUE && isStorable(value));
  if (!valueOk) return undefined;
  return inOrder ? (o as TelemetryRecord) : { v, id, source, fact, ts, value };
}

const isStorable = (s: string): boolean => !s.includes('\u0000') && s.isWellFormed();

export function encodeRecord(record: TelemetryRecord): Uint8Array {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

function invalid(reason: InvalidReason, detail: string): { ok: false; error: InvalidRecordError } {
  return { ok: false, error: new InvalidRecordError(reason, detail) };
}
