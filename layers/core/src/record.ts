import * as z from 'zod';

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
const storableString = z.string().max(MAX_STRING_VALUE).refine(storable, 'contains NUL or a lone surrogate');

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

/** Stable reason codes: dashboards, DLQ entries and redrive tooling key on these strings. */
export const INVALID_REASONS = [
  'not_base64',
  'too_large',
  'not_utf8',
  'not_json',
  'schema',
  'ts_out_of_range',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/**
 * Why ingest dead-letters a record: the contract's reasons, plus `identity_conflict` for a valid
 * reading whose identity (source, fact, ts) is already stored with a different id or value.
 */
export const DEAD_LETTER_REASONS = [...INVALID_REASONS, 'identity_conflict'] as const;
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
  | { ok: true; record: TelemetryRecord; /** The event time in microseconds since the epoch (see instantMicros). */ tsUs: number }
  | { ok: false; error: InvalidRecordError };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// One buffer for every record's bytes: a Buffer per record was a tenth of the decode time in GC.
const scratch = Buffer.allocUnsafe(MAX_RECORD_BYTES);

/** Decode one Kinesis `data` field. Never throws: every outcome is a value the batch can account for. */
export function decodeRecord(data: string, nowMs: number, window: TimeWindow): Decoded {
  if (data.length % 4 !== 0 || !BASE64.test(data)) {
    return invalid('not_base64', 'data is not canonical base64');
  }
  // Canonical base64 (checked above) decodes to exactly this many bytes.
  const byteLength = (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  if (byteLength > MAX_RECORD_BYTES) return invalid('too_large', `${byteLength} bytes > ${MAX_RECORD_BYTES}`);
  let text: string;
  try {
    text = utf8.decode(scratch.subarray(0, scratch.write(data, 'base64')));
  } catch {
    return invalid('not_utf8', 'payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return invalid('not_json', (e as Error).message.slice(0, 200));
  }
  let record = wellFormedRecord(json);
  if (!record) {
    const parsed = TelemetryRecordSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return invalid('schema', issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match');
    }
    record = parsed.data;
  }
  const tsUs = instantMicros(record.ts);
  if (tsUs < (nowMs - window.maxPastSeconds * 1000) * 1000 || tsUs > (nowMs + window.maxFutureSeconds * 1000) * 1000) {
    return invalid('ts_out_of_range', `${record.ts} outside [now-${window.maxPastSeconds}s, now+${window.maxFutureSeconds}s]`);
  }
  return { ok: true, record, tsUs };
}

/**
 * The instant a contract-valid `ts` names, in whole microseconds since the epoch (PostgreSQL's
 * precision): the offset applied, fraction digits past the sixth dropped (truncated, never rounded,
 * so an instant never moves into the next second, minute or day). Epoch microseconds stay exact
 * in a double until the year 2255.
 */
export function instantMicros(ts: string): number {
  // Date.parse takes every form the schema's pattern accepts (any offset up to +-23:59, any number
  // of fraction digits) and keeps milliseconds; digits 4-6 of the fraction are added here.
  const ms = Date.parse(ts);
  if (ts.charCodeAt(19) !== 46 /* . */) return ms * 1000;
  let micro = 0;
  for (let i = 23, scale = 100; i < 26 && scale >= 1; i++, scale /= 10) {
    const d = ts.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    micro += d * scale;
  }
  return ms * 1000 + micro;
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
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'boolean' ||
    (typeof value === 'string' && value.length <= MAX_STRING_VALUE && isStorable(value));
  if (!valueOk) return undefined;
  return inOrder ? (o as TelemetryRecord) : { v, id, source, fact, ts, value };
}

const isStorable = (s: string): boolean => !s.includes('\u0000') && s.isWellFormed();

export function encodeRecord(record: TelemetryRecord): Uint8Array {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

function invalid(reason: InvalidReason, detail: string): Decoded {
  return { ok: false, error: new InvalidRecordError(reason, detail) };
}
