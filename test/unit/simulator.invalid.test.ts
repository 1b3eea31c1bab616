import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import type { PutRecordsClient } from '#core/producer';
import { decodeRecord } from '#core/record';
import { createBrewery } from '#core/simulator/brewery';
import { INJECTED_REASONS, invalidEncoding, invalidInjector } from '#core/simulator/invalidRecords';
import { runSimulation } from '#core/simulator/run';

const NOW = Date.parse('2026-03-01T08:00:00.000Z');
const WINDOW = { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 };
const decode = (bytes: Uint8Array) => decodeRecord(Buffer.from(bytes).toString('base64'), NOW, WINDOW);

/** Accepts every entry and keeps its bytes. */
class RecordingKinesis implements PutRecordsClient {
  readonly data: Uint8Array[] = [];
  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const records = command.input.Records ?? [];
    this.data.push(...records.map((r) => r.Data!));
    return { $metadata: {}, Records: records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })) };
  }
}

async function simulate(invalidRate?: number) {
  const kinesis = new RecordingKinesis();
  let now = NOW;
  const report = await runSimulation(
    { rate: 1_000, durationSeconds: 5, seed: 7, ...(invalidRate === undefined ? {} : { invalidRate }) },
    { client: kinesis, streamName: 's', remainingMs: () => 60_000, now: () => now, sleep: async () => void (now += 100) },
  );
  return { report, decoded: kinesis.data.map(decode) };
}

describe('invalid records on purpose', () => {
  it.each(INJECTED_REASONS)('breaks a reading so that ingest rejects it as %s', (reason) => {
    const [reading] = createBrewery({ seed: 1 }).next(NOW, 1);
    const decoded = decode(invalidEncoding(reading!, reason));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.error.reason).toBe(reason);
  });

  it('sends none by default', async () => {
    const { report, decoded } = await simulate();
    expect(report.invalid).toBe(0);
    expect(decoded.every((d) => d.ok)).toBe(true);
  });

  it('sends the asked fraction, of every reason, and counts exactly those it sent', async () => {
    // Act
    const { report, decoded } = await simulate(0.1);

    // Assess
    const rejected = decoded.filter((d) => !d.ok);
    expect(report.sent).toBe(5_000);
    expect(report.invalid).toBe(rejected.length);
    expect(rejected.length).toBeGreaterThan(400);
    expect(rejected.length).toBeLessThan(600);
    expect(new Set(rejected.map((d) => !d.ok && d.error.reason))).toEqual(new Set(INJECTED_REASONS));
  });

  it('leaves the readings it does not break as the brewery made them', async () => {
    // Act
    const plain = (await simulate(0)).decoded;
    const mixed = (await simulate(0.2)).decoded;

    // Assess: entry by entry, an unbroken reading is the very reading of the run without injection.
    expect(mixed).toHaveLength(plain.length);
    const kept = mixed.flatMap((d, i) => (d.ok ? [{ mixed: d.record, plain: plain[i]!.ok ? plain[i]!.record : undefined }] : []));
    expect(kept.length).toBeLessThan(plain.length);
    for (const k of kept) expect(k.mixed).toEqual(k.plain);
  });

  it('refuses a rate outside [0, 1)', () => {
    expect(() => invalidInjector(1, 1)).toThrow(RangeError);
    expect(() => invalidInjector(1, -0.1)).toThrow(RangeError);
  });
});
