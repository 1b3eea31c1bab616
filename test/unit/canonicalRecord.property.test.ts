import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalRecord } from '#core/canonicalRecord';
import { fingerprint, seriesKey } from '#core/reading';
import { decodeReading, encodeRecord, instantMicros, MAX_STRING_VALUE, NAME_PATTERN, TelemetryRecordSchema, type TelemetryRecord } from '#core/record';

/**
 * The byte-level reader of canonical records against the general path (JSON.parse, then the
 * schema): for any bytes it answers nothing or the record the general path gives, key order
 * included; and it answers for every record encodeRecord writes in plain ASCII.
 */

const DATETIME = TelemetryRecordSchema.shape.ts._zod.def.pattern!;
const read = (b: Uint8Array) => canonicalRecord(Buffer.from(b), DATETIME);
const ANY_TIME = { maxPastSeconds: 1e12, maxFutureSeconds: 1e12 };

function generalPath(b: Uint8Array): TelemetryRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch {
    return undefined;
  }
  const parsed = TelemetryRecordSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

const asciiText = (min: number, max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
const anyText = (max: number) => fc.string({ unit: 'binary', maxLength: max });
const ts = fc.oneof(
  fc.date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,12})?(Z|[+-]\d{2}:\d{2})$/),
  // Near the edges zod's pattern draws: leap days of every kind of year, 30/31-day months, 23:59:59.
  fc
    .record({
      year: fc.oneof(fc.constantFrom(0, 4, 100, 400, 1900, 2000, 2024, 2100, 9999), fc.integer({ min: 0, max: 9999 })),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.constantFrom(0, 23, 24),
      minute: fc.constantFrom(0, 59, 60),
      second: fc.constantFrom(0, 59, 60),
      fraction: fc.constantFrom('', '.', '.5', '.123456', '.1234567891'),
      zone: fc.constantFrom('Z', 'z', '+00:00', ''),
    })
    .map((t) => {
      const two = (n: number) => String(n).padStart(2, '0');
      return `${String(t.year).padStart(4, '0')}-${two(t.month)}-${two(t.day)}T${two(t.hour)}:${two(t.minute)}:${two(t.second)}${t.fraction}${t.zone}`;
    }),
  asciiText(0, 40),
);
const isoTimes = fc.date({ min: new Date('1970-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
/** Every field but the event time valid and plain (ASCII, nothing to escape): the fast path's input. */
const plainText = (min: number, max: number) => asciiText(min, max).filter((s) => !s.includes('\\') && !s.includes('"'));
const plain = (times: fc.Arbitrary<string>) =>
  fc.record({
    id: plainText(1, 128),
    source: fc.stringMatching(NAME_PATTERN),
    fact: fc.stringMatching(NAME_PATTERN),
    ts: times,
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), plainText(0, MAX_STRING_VALUE)),
  });
const number = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2));
const value = fc.oneof(number, fc.boolean(), asciiText(0, MAX_STRING_VALUE + 2), anyText(10));
const record = fc.record({
  v: fc.constantFrom(1, 1, 1, 2),
  id: fc.oneof(asciiText(0, 130), anyText(20)),
  source: fc.oneof(fc.stringMatching(NAME_PATTERN), asciiText(0, 66)),
  fact: fc.oneof(fc.stringMatching(NAME_PATTERN), asciiText(0, 66)),
  ts,
  value,
});
const encode = (r: object): Uint8Array => Buffer.from(JSON.stringify(r), 'utf8');

/** Bytes that change what JSON and the schema make of a record. */
const edit = fc.record({
  at: fc.nat(),
  drop: fc.integer({ min: 0, max: 3 }),
  insert: fc.array(fc.constantFrom(...'"\\{}[],:. -+eE01_9tfnulx'.split('').map((c) => c.charCodeAt(0)), 0x00, 0x0a, 0x7f, 0x80, 0xc3, 0xff), { maxLength: 4 }),
});
function edited(bytes: Uint8Array, e: { at: number; drop: number; insert: number[] }): Uint8Array {
  const at = e.at % (bytes.length + 1);
  return Uint8Array.from([...bytes.subarray(0, at), ...e.insert, ...bytes.subarray(at + e.drop)]);
}

const sameAsGeneralPath = (b: Uint8Array) => {
  const mine = read(b);
  if (mine === undefined) return;
  const general = generalPath(b);
  expect(JSON.stringify(mine)).toBe(JSON.stringify(general));
  readsAsIngestKeeps(b, general!);
};

/**
 * What ingest keeps of a record it reads from the bytes (no record object made) is what it keeps
 * of the general path's record: a resend in another encoding must match the stored fingerprint.
 */
function readsAsIngestKeeps(b: Uint8Array, general: TelemetryRecord) {
  const d = decodeReading(Buffer.from(b), 0, ANY_TIME);
  if (!d.ok) throw d.error;
  expect(d.record, 'read from its bytes, without a record object').toBeUndefined();
  expect([d.series, d.tsUs, d.fp]).toEqual([seriesKey(general.source, general.fact), instantMicros(general.ts), fingerprint(general.id, general.value)]);
  expect(Object.is(d.numeric, typeof general.value === 'string' ? Number.NaN : Number(general.value)), `numeric ${d.numeric}`).toBe(true);
}

describe('canonicalRecord and decodeReading, the fast path of ingest', () => {
  it('gives the general path record, or nothing, for records of any field values', () => {
    fc.assert(
      fc.property(record, (r) => sameAsGeneralPath(encode(r))),
      { numRuns: 3_000 },
    );
  });

  it('gives the general path record, or nothing, for records with bytes dropped or added anywhere', () => {
    fc.assert(
      fc.property(record, edit, (r, e) => sameAsGeneralPath(edited(encode(r), e))),
      { numRuns: 5_000 },
    );
  });

  it('gives the general path record, or nothing, for the values and keys written in other JSON forms', () => {
    const variants = (r: TelemetryRecord) => [
      `{"v":1,"id":${JSON.stringify(r.id)},"source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":${JSON.stringify(r.value)} }`,
      `{"v":1.0,"id":${JSON.stringify(r.id)},"source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":1}`,
      `{"v":1,"id":"\\u0041","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":1}`,
      `{"v":1,"id":"a","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":1,"value":2}`,
      `{"v":1,"id":"a","id":"b","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":1}`,
      `{"v":1,"id":"a","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":1e400}`,
      `{"v":1,"id":"a","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":-0}`,
      `{"v":1,"id":"a","source":"${r.source}","fact":"${r.fact}","ts":"${r.ts}","value":01}`,
    ];
    const valid = fc
      .record({ id: asciiText(1, 10), source: fc.stringMatching(NAME_PATTERN), fact: fc.stringMatching(NAME_PATTERN), ts, value: number })
      .map((r) => ({ v: 1 as const, ...r }));
    fc.assert(fc.property(valid, (r) => variants(r).forEach((v) => sameAsGeneralPath(Buffer.from(v)))));
  });

  it("reads a number's value from its digits exactly as JSON.parse does, to the bit and the sign of zero", () => {
    // Decimals on both sides of the exact path's bounds (15 significant digits, 22 fraction digits), and exponents.
    const decimal = fc.oneof(
      fc.stringMatching(/^-?(0|[1-9]\d{0,20})(\.\d{1,25})?$/),
      fc.stringMatching(/^-?(0|[1-9]\d{0,3})\.0{0,20}[1-9]\d{0,16}$/),
      fc.stringMatching(/^-?(0|[1-9]\d{0,16})(\.\d{1,5})?[eE][+-]?\d{1,3}$/),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      // 10^23 is not exact in a double: over it, digits / 10^23 is not JSON.parse's value.
      fc.constantFrom('0.00000000254976356370962', '-0.00000000000703423712442'),
    );
    fc.assert(
      fc.property(decimal, (text) => {
        const bytes = Buffer.from(`{"v":1,"id":"a","source":"s","fact":"f","ts":"2026-01-01T00:00:00Z","value":${text}}`);
        const expected = JSON.parse(text) as number;
        const mine = read(bytes);
        if (Number.isFinite(expected)) expect(Object.is(mine?.value, expected), `${text}: ${String(mine?.value)} vs ${expected}`).toBe(true);
        else expect(mine).toBeUndefined();
      }),
      { numRuns: 10_000 },
    );
  });

  it('gives the general path record and event time, or nothing, for plain records with event times at the edges of the pattern', () => {
    fc.assert(
      fc.property(plain(ts), (fields) => sameAsGeneralPath(encodeRecord({ v: 1, ...fields }))),
      { numRuns: 5_000 },
    );
  });

  it('reads every plain-ASCII record encodeRecord writes, exactly as the general path does', () => {
    fc.assert(
      fc.property(plain(isoTimes), (fields) => {
        const bytes = encodeRecord({ v: 1, ...fields });
        const mine = read(bytes);
        expect(mine).toBeDefined();
        expect(JSON.stringify(mine)).toBe(JSON.stringify(generalPath(bytes)));
        readsAsIngestKeeps(bytes, generalPath(bytes)!);
      }),
      { numRuns: 3_000 },
    );
  });

  it('reads each event time in full after one that shares all but one byte of its minute', () => {
    // The minute of the last event time read is kept: a changed year, month, day, hour, minute or separator must not pass for it.
    const nearby = fc.tuple(plain(isoTimes), fc.integer({ min: 0, max: 16 }), fc.constantFrom(...'0123456789-T:x'));
    fc.assert(
      fc.property(nearby, ([fields, at, byte]) => {
        const other = `${fields.ts.slice(0, at)}${byte}${fields.ts.slice(at + 1)}`;
        sameAsGeneralPath(encodeRecord({ v: 1, ...fields }));
        sameAsGeneralPath(encodeRecord({ v: 1, ...fields, ts: other }));
      }),
      { numRuns: 5_000 },
    );
  });

  it('tells apart series whose names hash alike', () => {
    // FNV-1a gives these two names one 32-bit hash: series are known by it, and must still be told apart by their bytes.
    const [a, b] = ['temp_6pwu', 'temp_d5fa'];
    const pairs = [
      ['FBE_01', a],
      ['FBE_01', b],
      [a, 'ph'],
      [b, 'ph'],
    ] as const;
    for (const [source, fact] of [...pairs, ...pairs]) {
      const bytes = encodeRecord({ v: 1, id: 'x', source, fact, ts: '2026-11-22T20:00:00Z', value: 1 });
      sameAsGeneralPath(bytes);
      expect(read(bytes)).toMatchObject({ source, fact });
    }
  });
});
