import { z } from 'zod';

/**
 * The wire contract between producers and the ingest function. One module, used by the
 * simulator to encode and by ingest to decode, so both sides cannot drift apart.
 */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const MAX_STRING_VALUE = 256;
export const MAX_RECORD_BYTES = 4_096;

// PostgreSQL text cannot hold NUL, and jsonb rejects lone surrogates: such strings would pass JSON
// parsing and then fail the whole batch's write, so they are rejected here as invalid input.
const storableString = z
  .string()
  .max(MAX_STRING_VALUE)
  .refine((s) => !s.includes('\u0000') && s.isWellFormed(), 'contains NUL or a lone surrogate');

export const TelemetryRecordSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().min(1).max(128),
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
  | { ok: true; record: TelemetryRecord; tsMs: number }
  | { ok: false; error: InvalidRecordError };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode one Kinesis `data` field. Never throws: every outcome is a value the batch can account for. */
export function decodeRecord(data: string, nowMs: number, window: TimeWindow): Decoded {
  if (data.length % 4 !== 0 || !BASE64.test(data)) {
    return invalid('not_base64', 'data is not canonical base64');
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > MAX_RECORD_BYTES) return invalid('too_large', `${bytes.length} bytes > ${MAX_RECORD_BYTES}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return invalid('not_utf8', 'payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return invalid('not_json', (e as Error).message.slice(0, 200));
  }
  const parsed = TelemetryRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return invalid('schema', issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match');
  }
  const tsMs = Date.parse(parsed.data.ts);
  if (tsMs < nowMs - window.maxPastSeconds * 1000 || tsMs > nowMs + window.maxFutureSeconds * 1000) {
    return invalid('ts_out_of_range', `${parsed.data.ts} outside [now-${window.maxPastSeconds}s, now+${window.maxFutureSeconds}s]`);
  }
  return { ok: true, record: parsed.data, tsMs };
}

export function encodeRecord(record: TelemetryRecord): Uint8Array {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

function invalid(reason: InvalidReason, detail: string): Decoded {
  return { ok: false, error: new InvalidRecordError(reason, detail) };
}
