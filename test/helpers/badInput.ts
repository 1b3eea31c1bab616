import { randomBytes } from 'node:crypto';
import { MAX_RECORD_BYTES, type InvalidReason, type TelemetryRecord } from '#core/record';

/**
 * The bad-input corpus: what producers (or an attacker) can put on the stream, each with the
 * reason code ingest must dead-letter it with. Data, not tests: the unit test runs every entry
 * through decodeRecord, the integration test through the real ingest handler, mixed with valid
 * neighbours that must still be written.
 */
export interface BadInput {
  kind: string;
  /** The Kinesis `data` field as the event source mapping delivers it (base64 of the bytes put). */
  data: string;
  reason: InvalidReason;
}

/**
 * Valid records whose strings reach SQL (event_id, value_str) or whose numbers sit at the edges of
 * float8: they must be stored and read back exactly. Each has its own fact, so each is its own row.
 */
export interface ValidEdge {
  kind: string;
  record: TelemetryRecord;
  /** The bytes put on the stream, when they are not simply JSON.stringify(record). */
  data?: string;
}

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');
const json = (o: unknown): string => b64(JSON.stringify(o));
const iso = (ms: number): string => new Date(ms).toISOString();

/** A valid record one second old; the corpus breaks it one way at a time. */
function valid(nowMs: number, over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return { v: 1, id: 'bad-input-base', source: 'BADIN_01', fact: 'temperature_c', ts: iso(nowMs - 1_000), value: 20.5, ...over };
}

/** The valid record as text with one key's JSON replaced verbatim (for things JSON.stringify cannot write). */
function withRaw(nowMs: number, key: keyof TelemetryRecord, rawJson: string): string {
  const r = valid(nowMs);
  const parts = Object.entries(r).map(([k, v]) => `${JSON.stringify(k)}:${k === key ? rawJson : JSON.stringify(v)}`);
  return `{${parts.join(',')}}`;
}

function without(nowMs: number, key: keyof TelemetryRecord): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = valid(nowMs);
  return rest;
}

/** MIME-style base64 (a line break inside), same length so only the alphabet check can catch it. */
const lineBroken = (data: string): string => `${data.slice(0, 8)}\n${data.slice(9)}`;

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

export function badInputCorpus(nowMs: number): BadInput[] {
  const record = JSON.stringify(valid(nowMs));
  const padTo = (bytes: number) => record + ' '.repeat(bytes - Buffer.byteLength(record));
  return [
    // --- not base64
    { kind: 'not base64: plain text with punctuation', data: 'this is not base64!!', reason: 'not_base64' },
    { kind: 'not base64: length not a multiple of 4', data: json(valid(nowMs)).replace(/=+$/, '').slice(0, -1), reason: 'not_base64' },
    { kind: 'not base64: URL-safe alphabet (- and _)', data: 'ab-_cd-_', reason: 'not_base64' },
    { kind: 'not base64: embedded line break', data: lineBroken(json(valid(nowMs))), reason: 'not_base64' },
    { kind: 'not base64: padding in the middle', data: 'ab==cd==', reason: 'not_base64' },
    { kind: 'not base64: non-ASCII characters', data: 'éàüöéàüö', reason: 'not_base64' },
    // --- too large
    { kind: 'oversized: valid JSON one byte over the limit', data: b64(padTo(MAX_RECORD_BYTES + 1)), reason: 'too_large' },
    { kind: 'oversized: 64 KiB of random bytes', data: b64(randomBytes(64 * 1024)), reason: 'too_large' },
    { kind: 'oversized: 1 MiB record (payload truncated in the DLQ)', data: b64(Buffer.alloc(1024 * 1024, 0x20)), reason: 'too_large' },
    { kind: 'oversized: deep nesting past the size limit', data: b64(nested(3_000)), reason: 'too_large' },
    // --- not UTF-8
    { kind: 'not UTF-8: 0xFF 0xFE bytes', data: b64(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])), reason: 'not_utf8' },
    { kind: 'not UTF-8: Latin-1 encoded text', data: b64(Buffer.from(JSON.stringify(valid(nowMs, { value: 'température' })), 'latin1')), reason: 'not_utf8' },
    { kind: 'not UTF-8: overlong encoding of "/"', data: b64(Buffer.from([0x22, 0xc0, 0xaf, 0x22])), reason: 'not_utf8' },
    { kind: 'not UTF-8: encoded lone surrogate (CESU-8)', data: b64(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), reason: 'not_utf8' },
    { kind: 'not UTF-8: truncated multi-byte sequence', data: b64(Buffer.concat([Buffer.from('{"v":1,"id":"'), Buffer.from([0xe2, 0x82])])), reason: 'not_utf8' },
    { kind: 'not UTF-8: code point above U+10FFFF', data: b64(Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22])), reason: 'not_utf8' },
    { kind: 'not UTF-8: UTF-16LE with byte order mark', data: b64(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(record, 'utf16le')])), reason: 'not_utf8' },
    // --- not JSON
    { kind: 'not JSON: empty payload', data: '', reason: 'not_json' },
    { kind: 'not JSON: plain text', data: b64('temperature_c=20.5'), reason: 'not_json' },
    { kind: 'not JSON: truncated document', data: b64(record.slice(0, 30)), reason: 'not_json' },
    { kind: 'not JSON: trailing comma', data: b64(record.replace(/}$/, ',}')), reason: 'not_json' },
    { kind: 'not JSON: single quotes', data: b64(record.replaceAll('"', "'")), reason: 'not_json' },
    { kind: 'not JSON: unquoted keys', data: b64(record.replace('"v":', 'v:')), reason: 'not_json' },
    { kind: 'not JSON: NaN literal', data: b64(withRaw(nowMs, 'value', 'NaN')), reason: 'not_json' },
    { kind: 'not JSON: Infinity literal', data: b64(withRaw(nowMs, 'value', 'Infinity')), reason: 'not_json' },
    { kind: 'not JSON: hexadecimal number', data: b64(withRaw(nowMs, 'value', '0x1F')), reason: 'not_json' },
    { kind: 'not JSON: comment', data: b64(`/* reading */ ${record}`), reason: 'not_json' },
    { kind: 'not JSON: two documents back to back', data: b64(record + record), reason: 'not_json' },
    { kind: 'not JSON: XML', data: b64('<record v="1"><value>20.5</value></record>'), reason: 'not_json' },
    { kind: 'not JSON: UTF-16LE without byte order mark', data: b64(Buffer.from(record, 'utf16le')), reason: 'not_json' },
    // --- JSON of the wrong shape
    { kind: 'wrong shape: array', data: json([valid(nowMs)]), reason: 'schema' },
    { kind: 'wrong shape: null', data: json(null), reason: 'schema' },
    { kind: 'wrong shape: number', data: json(42), reason: 'schema' },
    { kind: 'wrong shape: string', data: json(record), reason: 'schema' },
    { kind: 'wrong shape: boolean', data: json(true), reason: 'schema' },
    { kind: 'wrong shape: empty object', data: json({}), reason: 'schema' },
    // --- missing, extra and mistyped fields
    { kind: 'missing v', data: json(without(nowMs, 'v')), reason: 'schema' },
    { kind: 'missing id', data: json(without(nowMs, 'id')), reason: 'schema' },
    { kind: 'missing source', data: json(without(nowMs, 'source')), reason: 'schema' },
    { kind: 'missing fact', data: json(without(nowMs, 'fact')), reason: 'schema' },
    { kind: 'missing ts', data: json(without(nowMs, 'ts')), reason: 'schema' },
    { kind: 'missing value', data: json(without(nowMs, 'value')), reason: 'schema' },
    { kind: 'extra field', data: json({ ...valid(nowMs), unit: 'C' }), reason: 'schema' },
    { kind: 'field name in another case', data: json({ ...without(nowMs, 'value'), Value: 20.5 }), reason: 'schema' },
    { kind: 'v is 2', data: json({ ...valid(nowMs), v: 2 }), reason: 'schema' },
    { kind: 'v is the string "1"', data: json({ ...valid(nowMs), v: '1' }), reason: 'schema' },
    { kind: 'id is empty', data: json(valid(nowMs, { id: '' })), reason: 'schema' },
    { kind: 'id is a number', data: json({ ...valid(nowMs), id: 17 }), reason: 'schema' },
    { kind: 'id longer than 128 characters', data: json(valid(nowMs, { id: 'i'.repeat(129) })), reason: 'schema' },
    { kind: 'id containing NUL', data: json(valid(nowMs, { id: 'id-with-\u0000-nul' })), reason: 'schema' },
    { kind: 'id containing a lone surrogate', data: json(valid(nowMs, { id: 'id-with-\ud800-surrogate' })), reason: 'schema' },
    { kind: 'source with SQL metacharacters', data: json(valid(nowMs, { source: "FBE_01'; DROP TABLE telemetry_events; --" })), reason: 'schema' },
    { kind: 'source longer than 64 characters', data: json(valid(nowMs, { source: 'S'.repeat(65) })), reason: 'schema' },
    { kind: 'source with a non-ASCII letter', data: json(valid(nowMs, { source: 'FBE_Ø1' })), reason: 'schema' },
    { kind: 'source with an emoji', data: json(valid(nowMs, { source: 'FBE_🍺' })), reason: 'schema' },
    { kind: 'source is empty', data: json(valid(nowMs, { source: '' })), reason: 'schema' },
    { kind: 'fact with a slash', data: json(valid(nowMs, { fact: 'temperature/c' })), reason: 'schema' },
    { kind: 'fact is a number', data: json({ ...valid(nowMs), fact: 3 }), reason: 'schema' },
    { kind: 'ts not ISO-8601', data: json(valid(nowMs, { ts: 'yesterday' })), reason: 'schema' },
    { kind: 'ts as epoch milliseconds', data: json({ ...valid(nowMs), ts: nowMs }), reason: 'schema' },
    { kind: 'ts without a time zone', data: json(valid(nowMs, { ts: iso(nowMs).slice(0, 19) })), reason: 'schema' },
    { kind: 'ts with a space instead of T', data: json(valid(nowMs, { ts: iso(nowMs).replace('T', ' ') })), reason: 'schema' },
    { kind: 'ts on February 30', data: json(valid(nowMs, { ts: `${iso(nowMs).slice(0, 4)}-02-30T12:00:00Z` })), reason: 'schema' },
    { kind: 'ts at hour 24', data: json(valid(nowMs, { ts: `${iso(nowMs).slice(0, 10)}T24:00:00Z` })), reason: 'schema' },
    { kind: 'ts with offset +99:00', data: json(valid(nowMs, { ts: `${iso(nowMs).slice(0, 19)}+99:00` })), reason: 'schema' },
    { kind: 'value null', data: json({ ...valid(nowMs), value: null }), reason: 'schema' },
    { kind: 'value object', data: json({ ...valid(nowMs), value: { celsius: 20.5 } }), reason: 'schema' },
    { kind: 'value array', data: json({ ...valid(nowMs), value: [20.5] }), reason: 'schema' },
    { kind: 'value nested 1,000 levels deep', data: b64(withRaw(nowMs, 'value', nested(1_000))), reason: 'schema' },
    { kind: 'value string longer than 256 characters', data: json(valid(nowMs, { value: 'x'.repeat(257) })), reason: 'schema' },
    { kind: 'value string containing NUL', data: json(valid(nowMs, { value: 'a\u0000b' })), reason: 'schema' },
    { kind: 'value string with an escaped lone surrogate', data: b64(withRaw(nowMs, 'value', '"\\udc00 alone"')), reason: 'schema' },
    { kind: 'number overflowing to Infinity (1e400)', data: b64(withRaw(nowMs, 'value', '1e400')), reason: 'schema' },
    { kind: 'number overflowing to -Infinity (-1e400)', data: b64(withRaw(nowMs, 'value', '-1e400')), reason: 'schema' },
    // --- keys with a meaning to JavaScript, duplicate keys
    { kind: '__proto__ key', data: b64(record.replace(/}$/, ',"__proto__":{"polluted":true}}')), reason: 'schema' },
    { kind: 'constructor key', data: b64(record.replace(/}$/, ',"constructor":{"prototype":{"polluted":true}}}')), reason: 'schema' },
    { kind: 'prototype key', data: b64(record.replace(/}$/, ',"prototype":{"polluted":true}}')), reason: 'schema' },
    { kind: 'duplicate key whose last value is invalid', data: b64(record.replace(/}$/, ',"v":2}')), reason: 'schema' },
    // --- event time outside the accepted window
    { kind: 'ts eight days in the past', data: json(valid(nowMs, { ts: iso(nowMs - 8 * 24 * 3600_000) })), reason: 'ts_out_of_range' },
    { kind: 'ts ten minutes in the future', data: json(valid(nowMs, { ts: iso(nowMs + 10 * 60_000) })), reason: 'ts_out_of_range' },
    { kind: 'ts far in the future (year 9999)', data: json(valid(nowMs, { ts: '9999-12-31T23:59:59Z' })), reason: 'ts_out_of_range' },
    { kind: 'ts at the Unix epoch', data: json(valid(nowMs, { ts: '1970-01-01T00:00:00Z' })), reason: 'ts_out_of_range' },
    { kind: 'ts in year 0000', data: json(valid(nowMs, { ts: '0000-01-01T00:00:00Z' })), reason: 'ts_out_of_range' },
  ];
}

/** Strings that travel into SQL statements as data; each must come back byte for byte. */
const SQL_STRINGS: ReadonlyArray<[kind: string, value: string]> = [
  ['single quotes', "it's a 'quoted' ''doubled'' value"],
  ['backslashes', 'C:\\brew\\kettle \\\\ end\\'],
  ['escape sequences as text', String.raw`\n \t \x00 \u0000 \0 \\`],
  ['replacement patterns', "$& $1 $$ $` $'"],
  ['SQL injection attempt', "'); DROP TABLE telemetry_events; --"],
  ['escape-string syntax', "E'\\x41' U&'\\0041'"],
  ['dollar quoting', '$$ $tag$ body $tag$ $$'],
  ['JSON text', '{"value":"nested","q":"\\""}'],
  ['LIKE wildcards and format specifiers', '100% _under_ %s %d %%'],
  ['emoji and ZWJ sequences', '🍺🔥 👩‍🔬 🏳️‍🌈'],
  ['combining marks and right-to-left text', 'é vs é, שלום, مرحبا'],
  ['control characters', 'line1\nline2\r\n\ttab \u0007bell \u001bESC'],
  ['unicode line separators', 'a\u2028b\u2029c\u0085d'],
  ['null-like text', 'NULL null \\N'],
  ['256 two-byte characters (the maximum length)', 'é'.repeat(256)],
  ['128 astral emoji (256 UTF-16 units)', '🍺'.repeat(128)],
];

const NUMBERS: ReadonlyArray<[kind: string, value: number]> = [
  ['largest float8', Number.MAX_VALUE],
  ['most negative float8', -Number.MAX_VALUE],
  ['smallest subnormal', Number.MIN_VALUE],
  ['0.1 + 0.2', 0.1 + 0.2],
  ['2^53 + 2', 2 ** 53 + 2],
];

export function validEdges(nowMs: number): ValidEdge[] {
  let n = 0;
  const edge = (kind: string, value: TelemetryRecord['value'], id = `edge-${n}`): ValidEdge => {
    n++;
    return { kind, record: { v: 1, id, source: 'BADIN_EDGE', fact: `edge_${String(n).padStart(2, '0')}`, ts: iso(nowMs - 5_000 + n), value } };
  };
  const edges: ValidEdge[] = [
    ...SQL_STRINGS.map(([kind, value]) => edge(`string value: ${kind}`, value)),
    ...SQL_STRINGS.filter(([, v]) => v.length <= 128).map(([kind, value]) => edge(`id: ${kind}`, true, value)),
    ...NUMBERS.map(([kind, value]) => edge(`number: ${kind}`, value)),
  ];
  const padded = edge('exactly 4096 bytes (whitespace-padded)', 'padded');
  const text = JSON.stringify(padded.record);
  edges.push({ ...padded, data: b64(text + ' '.repeat(MAX_RECORD_BYTES - Buffer.byteLength(text))) });
  const bom = edge('UTF-8 byte order mark before the JSON', 'bom');
  edges.push({ ...bom, data: b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(bom.record))])) });
  const dup = edge('duplicate key: the last occurrence wins, as in JSON.parse', 'last');
  edges.push({ ...dup, data: b64(JSON.stringify(dup.record).replace('"value":"last"', '"value":"first","value":"last"')) });
  return edges;
}

/** The Kinesis data field for a valid edge record. */
export const edgeData = (e: ValidEdge): string => e.data ?? json(e.record);
