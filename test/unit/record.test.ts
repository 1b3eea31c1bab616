import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeRecord, encodeRecord, instantMicros, INVALID_REASONS, InvalidRecordError, MAX_RECORD_BYTES, storedTs, TelemetryRecordSchema } from '#core/record';
import { base64, telemetry } from '../helpers/records.ts';

const window = { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 };
const reasonOf = (data: string) => {
  const d = decodeRecord(data, Date.now(), window);
  return d.ok ? 'ok' : d.error.reason;
};

describe('record contract', () => {
  it('accepts what the producer encodes, keeping the event time as sent', () => {
    const record = telemetry({ value: 'fermenting', fact: 'state', ts: '2026-11-22T21:00:00.123456+01:00' });
    const d = decodeRecord(Buffer.from(encodeRecord(record)).toString('base64'), Date.parse('2026-11-22T20:00:00Z'), window);
    expect(d).toMatchObject({ ok: true, record: { ts: '2026-11-22T21:00:00.123456+01:00', value: 'fermenting' } });
  });

  it.each([
    ['not_base64', '%%%'],
    ['not_base64', 'YWJj='],
    ['not_json', base64('{"v":1,')],
    ['not_utf8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64')],
    ['schema', base64([1, 2])],
    ['schema', base64({ ...telemetry(), extra: true })],
    ['schema', base64({ ...telemetry(), v: 2 })],
    ['schema', base64({ ...telemetry(), source: 'has space' })],
    ['schema', base64({ ...telemetry(), value: null })],
    ['schema', base64({ ...telemetry(), value: 'x'.repeat(257) })],
    ['schema', base64({ ...telemetry(), value: 'nul\u0000byte' })],
    ['schema', base64({ ...telemetry(), value: '\ud800 lone surrogate' })],
    ['schema', base64({ ...telemetry(), ts: 'yesterday' })],
    ['schema', base64('{"v":1,"id":"a","source":"FBE_01","fact":"t","ts":"2026-11-22T20:00:00Z","value":1e999}')],
    ['ts_out_of_range', base64(telemetry({}, -8 * 24 * 3600 * 1000))],
    ['ts_out_of_range', base64(telemetry({}, 10 * 60 * 1000))],
    ['too_large', base64({ ...telemetry(), pad: 'x'.repeat(MAX_RECORD_BYTES) })],
  ])('rejects %s input (%#) with its stable reason code', (reason, data) => {
    expect(reasonOf(data)).toBe(reason);
  });

  it('returns a typed reason, never throws, for any bytes, and JSON of the wrong shape reaches schema validation', () => {
    // Prepare: random bytes; any JSON value; and records whose fields have other shapes
    // (canonical base64 of valid JSON, so the decode gets past base64, UTF-8 and JSON parsing).
    const record = fc.record(
      {
        v: fc.oneof(fc.constant(1), fc.jsonValue()),
        id: fc.oneof(fc.string({ minLength: 1 }), fc.jsonValue()),
        source: fc.oneof(fc.constantFrom('FBE_01', 'has space', ''), fc.jsonValue()),
        fact: fc.oneof(fc.constant('temperature_c'), fc.jsonValue()),
        ts: fc.oneof(fc.constant(telemetry().ts), fc.string(), fc.jsonValue()),
        value: fc.oneof(fc.double(), fc.boolean(), fc.string({ maxLength: 300 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => ({ json: false, data: Buffer.from(b).toString('base64') })),
      fc.string().map((data) => ({ json: false, data })),
      fc.oneof(fc.jsonValue(), record).map((v) => ({ json: true, data: Buffer.from(JSON.stringify(v)).toString('base64') })),
      fc.constant(null).map(() => ({ json: true, data: base64(telemetry()) })),
    );
    const seen = new Map<string, number>();

    // Act and assess
    fc.assert(
      fc.property(input, ({ json, data }) => {
        const d = decodeRecord(data, Date.now(), window);
        const reason = d.ok ? 'ok' : d.error.reason;
        seen.set(reason, (seen.get(reason) ?? 0) + 1);
        if (!d.ok) expect(d.error).toBeInstanceOf(InvalidRecordError);
        expect(['ok', ...INVALID_REASONS]).toContain(reason);
        // Valid JSON is never refused before the schema stage.
        if (json) expect(['ok', 'schema', 'ts_out_of_range', 'too_large']).toContain(reason);
      }),
      { numRuns: 2_000, seed: 15 },
    );
    expect(seen.get('schema') ?? 0).toBeGreaterThan(500);
    expect(seen.get('not_base64') ?? 0).toBeGreaterThan(0);
    expect(seen.get('ok') ?? 0).toBeGreaterThan(0);
  });

  it('keeps booleans and numbers typed', () => {
    expect(TelemetryRecordSchema.parse(telemetry({ value: true })).value).toBe(true);
    expect(TelemetryRecordSchema.parse(telemetry({ value: -0.5 })).value).toBe(-0.5);
  });

  it('accepts exactly what the zod schema accepts, fast path or not (differential)', () => {
    // Prepare: seeded mutations of a valid record, one field at a time, plus dropped, extra and reordered keys.
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const values: unknown[] = [1, -0, 1e308, 'x', '', 'a'.repeat(257), 'nul\u0000', '\ud800', true, null, [], {}, '2026-11-22T20:00:00Z', 'FBE 01', 'FBE_01', 2, '1'];
    const keys = ['v', 'id', 'source', 'fact', 'ts', 'value'] as const;
    const wide = { maxPastSeconds: 10 * 365 * 24 * 3600, maxFutureSeconds: 10 * 365 * 24 * 3600 };
    for (let i = 0; i < 3_000; i++) {
      const o: Record<string, unknown> = { ...telemetry({ ts: '2026-11-22T20:00:00.000Z' }) };
      const key = keys[Math.floor(rand() * keys.length)]!;
      const roll = rand();
      if (roll < 0.6) o[key] = values[Math.floor(rand() * values.length)];
      else if (roll < 0.7) delete o[key];
      else if (roll < 0.8) o.extra = 1;
      const ordered = roll > 0.9 ? Object.fromEntries(Object.entries(o).reverse()) : o;
      // Act
      const decoded = decodeRecord(base64(ordered), Date.parse('2026-11-22T20:00:00Z'), wide);
      // Assess
      expect(decoded.ok, JSON.stringify(ordered)).toBe(TelemetryRecordSchema.safeParse(ordered).success);
    }
  });

  it('calls data base64 exactly when it is canonical base64: the alphabet, padding only at the end, length a multiple of 4', () => {
    // Prepare: text from the alphabet and the characters a lenient decoder skips or also reads
    const canonical = /^[A-Za-z0-9+/]*={0,2}$/;
    const chars = fc.constantFrom(...'ABYZabyz0189+/=-_ .\n%'.split(''), 'QQ', 'QUJD', '==');
    const text = fc.oneof(
      fc.array(chars, { maxLength: 24 }).map((c) => c.join('')),
      fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('base64')),
    );

    // Act and assess
    fc.assert(
      fc.property(text, (data) => {
        const isCanonical = data.length % 4 === 0 && canonical.test(data);
        expect(reasonOf(data) !== 'not_base64').toBe(isCanonical);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('event time', () => {
  it.each([
    ['2026-11-22T20:00:00Z', 0],
    ['2026-11-22T20:00:00.1Z', 100_000],
    ['2026-11-22T20:00:00.0-01:00', 3_600_000_000],
    ['2026-11-22T20:00:00.123Z', 123_000],
    ['2026-11-22T20:00:00.1234Z', 123_400],
    ['2026-11-22T20:00:00.123456Z', 123_456],
    ['2026-11-22T20:00:00.1234567891Z', 123_456],
    ['2026-11-22T20:00:00.999999999Z', 999_999],
    ['2026-11-23T12:00:00.5+16:00', 500_000],
    ['2026-11-22T06:01:00.000001-13:59', 1],
  ])('names the instant %s, truncated to microseconds', (ts, usAfter) => {
    expect(instantMicros(ts) - Date.parse('2026-11-22T20:00:00Z') * 1000).toBe(usAfter);
  });

  it('hands PostgreSQL text it reads as the same instant: the producer own when UTC with six digits at most', () => {
    expect(storedTs('2026-11-22T20:00:00.123Z', instantMicros('2026-11-22T20:00:00.123Z'))).toBe('2026-11-22T20:00:00.123Z');
    expect(storedTs('2026-11-23T12:00:00.5+16:00', instantMicros('2026-11-23T12:00:00.5+16:00'))).toBe('2026-11-22T20:00:00.500000Z');
    expect(storedTs('2026-11-22T20:00:00.9999999Z', instantMicros('2026-11-22T20:00:00.9999999Z'))).toBe('2026-11-22T20:00:00.999999Z');
  });
});

describe('event time, against an independent reading', () => {
  it('agrees with Date.parse on the milliseconds for every form the schema accepts, digits 4-6 added', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.stringMatching(/^[0-9]{0,9}$/),
        (ms, offset, fraction) => {
          const local = new Date(ms + offset * 60_000).toISOString().slice(0, 19);
          const zone =
            offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
          const ts = `${local}${fraction ? `.${fraction}` : ''}${zone}`;
          expect(TelemetryRecordSchema.shape.ts.safeParse(ts).success).toBe(true);
          const whole = Math.floor(ms / 1000) * 1000;
          expect(instantMicros(ts)).toBe(whole * 1000 + Number(fraction.slice(0, 6).padEnd(6, '0')));
          expect(Math.floor(instantMicros(ts) / 1000)).toBe(Date.parse(`${local}${fraction ? `.${fraction.slice(0, 3)}` : ''}${zone}`));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
