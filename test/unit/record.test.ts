import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, MAX_RECORD_BYTES, TelemetryRecordSchema } from '#core/record';
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

  it('returns typed errors, never throws, for any byte string', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: i }, (_, j) => (j * 7919 + i) % 256));
      expect(() => decodeRecord(bytes.toString('base64'), Date.now(), window)).not.toThrow();
    }
  });

  it('keeps booleans and numbers typed', () => {
    expect(TelemetryRecordSchema.parse(telemetry({ value: true })).value).toBe(true);
    expect(TelemetryRecordSchema.parse(telemetry({ value: -0.5 })).value).toBe(-0.5);
  });

  it('accepts exactly what the zod schema accepts, fast path or not (differential)', () => {
    // Prepare: seeded mutations of a valid record, one field at a time, plus dropped, extra and reordered keys.
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
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
});
