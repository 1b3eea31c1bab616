import { MAX_RECORD_BYTES, type InvalidReason, type TelemetryRecord } from '../record.ts';
import { createRandom } from './random.ts';

/**
 * Invalid records on purpose, for runs that exercise the dead-letter path (`npm run local --
 * --invalid-rate`). Each breaks a real reading one way, for every reason a producer can cause
 * through Kinesis (`not_base64` cannot happen there: Kinesis hands the bytes over base64-encoded).
 */
export const INJECTED_REASONS = ['not_json', 'not_utf8', 'schema', 'ts_out_of_range', 'too_large'] as const satisfies readonly InvalidReason[];
export type InjectedReason = (typeof INJECTED_REASONS)[number];

const DAY_MS = 24 * 3600 * 1000;

/** The bytes of `r` broken so that ingest rejects them with `reason`. */
export function invalidEncoding(r: TelemetryRecord, reason: InjectedReason): Uint8Array {
  const json = JSON.stringify(r);
  switch (reason) {
    case 'not_json':
      return Buffer.from(json.slice(0, -1), 'utf8');
    case 'not_utf8':
      // 0xC3 starts a two-byte sequence; 0x28 cannot continue it.
      return Buffer.concat([Buffer.from(json.slice(0, -2), 'utf8'), Buffer.from([0xc3, 0x28]), Buffer.from('"}', 'utf8')]);
    case 'schema':
      return Buffer.from(JSON.stringify({ ...r, unit: 'degC' }), 'utf8');
    case 'ts_out_of_range':
      return Buffer.from(JSON.stringify({ ...r, ts: new Date(Date.parse(r.ts) + DAY_MS).toISOString() }), 'utf8');
    case 'too_large':
      return Buffer.from(json + ' '.repeat(MAX_RECORD_BYTES), 'utf8');
  }
}

/**
 * Decides, with its own seeded sequence (the brewery's readings stay the same whatever the rate),
 * which readings to replace by an invalid encoding, cycling through the reasons.
 */
export function invalidInjector(seed: number, rate: number): (r: TelemetryRecord) => Uint8Array | undefined {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`invalid rate must be in [0, 1), got ${rate}`);
  const random = createRandom(seed ^ 0x1badc0de);
  let next = 0;
  return (r) => (rate > 0 && random.chance(rate) ? invalidEncoding(r, INJECTED_REASONS[next++ % INJECTED_REASONS.length]!) : undefined);
}
