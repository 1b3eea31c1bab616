import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { dataOf, kinesisMapping, latch, newStream, put, startEmulators, until, type Emulators, type Put } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

const PROD_FACTOR = loadStageConfig('prod').ingest.parallelizationFactor;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** `perKey` records for each of `keys` partition keys, interleaved as devices send them: k0/0, k1/0, ..., k0/1, ... */
function interleaved(keys: number, perKey: number): Put[] {
  return Array.from({ length: keys * perKey }, (_, i) => ({ partitionKey: `k${i % keys}`, data: `k${i % keys}/${Math.floor(i / keys)}` }));
}

describe('ParallelizationFactor', () => {
  it(`runs up to ${PROD_FACTOR} batches of one shard at once (prod's factor), each partition key in order and in one batch at a time`, async () => {
    // Prepare
    expect(PROD_FACTOR).toBeGreaterThan(1);
    const stream = await newStream(emu);
    await put(emu, stream, interleaved(20, 5));
    let active = 0;
    let maxActive = 0;
    let peaked = false;
    const activeKeys = new Map<string, number>();
    const keyOverlaps: string[] = [];
    const order = new Map<string, string[]>();
    const { mapping } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        active++;
        maxActive = Math.max(maxActive, active);
        const keys = new Set(e.Records.map((r) => r.kinesis.partitionKey));
        for (const k of keys) {
          if (activeKeys.get(k)) keyOverlaps.push(k);
          activeKeys.set(k, (activeKeys.get(k) ?? 0) + 1);
        }
        for (const r of e.Records) order.set(r.kinesis.partitionKey, [...(order.get(r.kinesis.partitionKey) ?? []), dataOf(r)]);
        // The first batches stay busy until their siblings run beside them: every lane has work from the start.
        if (!peaked) await until('sibling batches', () => active === PROD_FACTOR, 10_000).finally(() => (peaked = true));
        await sleep(1); // a turn for a sibling to start and overlap
        for (const k of keys) activeKeys.set(k, activeKeys.get(k)! - 1);
        active--;
      },
      { batchSize: 10, parallelizationFactor: PROD_FACTOR },
    );

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess
    const shard = [...mapping.shards.values()][0]!;
    expect(maxActive).toBe(PROD_FACTOR);
    expect(shard.maxInFlight).toBe(PROD_FACTOR);
    expect(keyOverlaps).toEqual([]);
    expect(order.size).toBe(20);
    for (const [k, seen] of order) expect(seen).toEqual(Array.from({ length: 5 }, (_, i) => `${k}/${i}`));
  });

  it('keeps the checkpoint at the lowest unfinished record of the shard while a later lane finishes', async () => {
    // Prepare: the first record's key is held by the function; other keys land in the other lane.
    const stream = await newStream(emu);
    const placed = await put(emu, stream, [{ partitionKey: 'held', data: 'held/0' }, ...interleaved(20, 1), { partitionKey: 'held', data: 'held/1' }]);
    const release = latch();
    const { mapping } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        if (e.Records.some((r) => r.kinesis.partitionKey === 'held')) await release.promise;
      },
      { parallelizationFactor: 2, batchSize: 100 },
    );
    const shard = () => [...mapping.shards.values()][0]!;

    // Act
    await mapping.start();
    await until('the other lane finished', () => shard().read === 22 && shard().inFlight === 1 && shard().done > 0);
    const whileHeld = { checkpoint: shard().checkpoint, done: shard().done };
    release.open();
    await mapping.stop();

    // Assess: records after the held one were acknowledged, yet the checkpoint could not pass it.
    expect(whileHeld.done).toBeGreaterThan(0);
    expect(whileHeld.checkpoint).toBeUndefined();
    expect(shard().checkpoint).toBe(placed.at(-1)!.sequenceNumber);
  });
});
