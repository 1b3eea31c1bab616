import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AGGREGATE_MAX_BYTES, aggregate, aggregateDataBytes, recordsPerAggregate, type Aggregate } from '#core/kpl/aggregate';
import { deaggregate } from '#core/kpl/deaggregate';
import type { UserRecord } from '#core/kpl/format';
import { encodeRecord } from '#core/record';
import { createBrewery } from '#core/simulator/brewery';

/** What Kinesis counts against a record's size and its PUT payload units. */
const kinesisBytes = (a: Aggregate) => a.data.length + Buffer.byteLength(a.partitionKey, 'utf8');

const userRecords = fc.array(
  fc.record(
    {
      partitionKey: fc.oneof(fc.constantFrom('FBE_01', 'FBE_02', 'FBE_03'), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 })),
      explicitHashKey: fc.constantFrom('0', '340282366920938463463374607431768211455'),
      data: fc.uint8Array({ maxLength: 600 }),
    },
    { requiredKeys: ['partitionKey', 'data'] },
  ),
  { maxLength: 80 },
);
const groupOf = (r: UserRecord) => JSON.stringify([r.partitionKey, r.explicitHashKey ?? null]);

describe('aggregate', () => {
  it("packs the simulator's readings into aggregates of one source, each within one 25 KiB PUT payload unit", () => {
    // Prepare
    const readings = createBrewery({ seed: 5 }).next(Date.UTC(2026, 0, 1), 5_000);
    const input = readings.map((r) => ({ partitionKey: r.source, data: encodeRecord(r) }));

    // Act
    const packed = aggregate(input);

    // Assess: readings are ~120 bytes, so about 200 fit one aggregate
    for (const a of packed) expect(kinesisBytes(a)).toBeLessThanOrEqual(AGGREGATE_MAX_BYTES);
    expect(packed.length).toBeLessThan(input.length / 150);
    const bytes = (as: Aggregate[]) => Buffer.concat(as.map((a) => a.data));
    expect(bytes(aggregate(input)).equals(bytes(packed))).toBe(true);
  });

  it("keeps one partition key per aggregate, each key's records in input order, aggregates in order of their first record", () => {
    fc.assert(
      fc.property(userRecords, fc.integer({ min: 64, max: 3_000 }), (input, maxBytes) => {
        // Act
        const packed = aggregate(input, { maxBytes });

        // Assess
        const firsts = packed.map((a) => a.members[0] as number);
        expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
        const byGroup = new Map<string, number[]>();
        for (const a of packed) {
          const groups = new Set(a.members.map((i) => groupOf(input[i]!)));
          expect(groups).toEqual(new Set([groupOf({ partitionKey: a.partitionKey, explicitHashKey: a.explicitHashKey, data: new Uint8Array() })]));
          const seen = byGroup.get(groupOf(input[a.members[0]!]!)) ?? [];
          byGroup.set(groupOf(input[a.members[0]!]!), [...seen, ...a.members]);
        }
        for (const [group, members] of byGroup) {
          expect(members).toEqual(input.flatMap((r, i) => (groupOf(r) === group ? [i] : [])));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('stays within the bound, closing an aggregate only when the next record of its key does not fit', () => {
    fc.assert(
      fc.property(userRecords, fc.integer({ min: 64, max: 3_000 }), (input, maxBytes) => {
        // Act
        const packed = aggregate(input, { maxBytes });

        // Assess: an aggregate over the bound holds one record too large for any; the next one of the same key was needed
        const previous = new Map<string, Aggregate>();
        for (const a of packed) {
          if (kinesisBytes(a) > maxBytes) expect(a.members).toHaveLength(1);
          const group = groupOf(input[a.members[0]!]!);
          const before = previous.get(group);
          if (before) {
            const [joined] = aggregate(
              [...before.members, a.members[0]!].map((i) => input[i]!),
              { maxBytes: Infinity },
            );
            expect(kinesisBytes(joined!)).toBeGreaterThan(maxBytes);
          }
          previous.set(group, a);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('counts a partition key in UTF-8 bytes, not characters', () => {
    // Prepare: 100 characters, 200 bytes
    const partitionKey = 'é'.repeat(100);
    const input = Array.from({ length: 30 }, (_, i) => ({ partitionKey, data: Buffer.alloc(100, i) }));

    // Act
    const packed = aggregate(input, { maxBytes: 1_000 });

    // Assess
    for (const a of packed) expect(kinesisBytes(a)).toBeLessThanOrEqual(1_000);
    const [first] = aggregate(input.slice(0, packed[0]!.members.length + 1), { maxBytes: Infinity });
    expect(kinesisBytes(first!)).toBeGreaterThan(1_000);
  });

  it('gives a record too large for the bound an aggregate of its own, never sending it bare', () => {
    // Prepare: a record whose data begins with the magic bytes would read as an aggregate if sent bare
    const huge = Buffer.concat([Buffer.from('f3899ac2', 'hex'), Buffer.alloc(30 * 1024, 1)]);
    const input = [
      { partitionKey: 'p', data: Buffer.from('before') },
      { partitionKey: 'p', data: huge },
      { partitionKey: 'p', data: Buffer.from('after') },
    ];

    // Act
    const packed = aggregate(input);

    // Assess
    expect(packed.map((a) => a.members)).toEqual([[0], [1], [2]]);
    const middle = deaggregate(packed[1]!.data);
    expect(middle.kind === 'aggregate' && middle.records.map((r) => r.data.equals(huge))).toEqual([true]);
  });

  it("sets the aggregate's partition key and explicit hash key to those of its records", () => {
    // Act
    const packed = aggregate([
      { partitionKey: 'a', explicitHashKey: '7', data: Buffer.from('1') },
      { partitionKey: 'a', data: Buffer.from('2') },
    ]);

    // Assess
    expect(packed.map(({ partitionKey, explicitHashKey, members }) => ({ partitionKey, explicitHashKey, members }))).toEqual([
      { partitionKey: 'a', explicitHashKey: '7', members: [0] },
      { partitionKey: 'a', explicitHashKey: undefined, members: [1] },
    ]);
    expect(aggregate([])).toEqual([]);
  });

  it('predicts the size of an aggregate and how many records fit one, as aggregate() packs them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30_000 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), (dataBytes, partitionKey) => {
        // Prepare
        const keyBytes = Buffer.byteLength(partitionKey, 'utf8');
        const fit = recordsPerAggregate(dataBytes, keyBytes);
        const input = Array.from({ length: fit + 1 }, () => ({ partitionKey, data: new Uint8Array(dataBytes) }));

        // Act
        const packed = aggregate(input);

        // Assess: exactly `fit` go in the first aggregate (one alone when even one is too large)
        expect(packed[0]!.members).toHaveLength(fit);
        expect(packed[0]!.data.length).toBe(aggregateDataBytes(fit, dataBytes, keyBytes));
      }),
      { numRuns: 200 },
    );
  });
});
