import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { highestPositions, type StreamPosition } from '#core/db/checkpointStore';
import { compareSequence } from '#core/reading';

/** The highest position per (shard, partition key) by the definition: every pair compared. */
function highestByDefinition(positions: readonly StreamPosition[]): Map<string, string> {
  const best = new Map<string, string>();
  for (const p of positions) {
    const key = `${p.shardId}/${p.partitionKey}`;
    const seen = best.get(key);
    if (seen === undefined || compareSequence(p.sequenceNumber, seen) > 0) best.set(key, p.sequenceNumber);
  }
  return best;
}

// Sequence numbers of differing lengths and shared prefixes, as Kinesis' 56-digit ones share theirs.
const sequence = fc
  .oneof(
    fc.bigInt({ min: 0n, max: 10n ** 60n }),
    fc.bigInt({ min: 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000n, max: 49_600_000_000_000_000_000_000_000_000_000_000_000_000_100n }),
  )
  .map(String);
const position = fc.record({
  shardId: fc.constantFrom('shardId-000000000000', 'shardId-000000000001'),
  partitionKey: fc.constantFrom('a', 'b', 'kettle-1', ''),
  sequenceNumber: sequence,
});

describe('highestPositions', () => {
  it('finds the highest sequence of every (shard, partition key), whatever order the batch is in', () => {
    fc.assert(
      fc.property(fc.array(position, { maxLength: 60 }), (positions) => {
        const found = highestPositions(positions);
        expect(new Map(found.map((p) => [`${p.shardId}/${p.partitionKey}`, p.sequenceNumber]))).toEqual(highestByDefinition(positions));
        expect(found).toHaveLength(new Set(positions.map((p) => `${p.shardId}/${p.partitionKey}`)).size);
      }),
      { numRuns: 500 },
    );
  });
});
