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
});
