import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunk, watchTaken } from '#core/chunks';

describe('size-bounded chunker', () => {
  it('keeps every item once and in order, each chunk within both limits and as full as they allow', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 120 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 300 }),
        fc.nat({ max: 20 }),
        (sizes, maxItems, maxBytes, emptyBytes) => {
          // Act
          const chunks = chunk(sizes, { maxItems, maxBytes, bytes: (n) => n, emptyBytes });

          // Assess
          expect(chunks.flat()).toEqual(sizes);
          const weight = (c: number[]) => emptyBytes + c.reduce((a, b) => a + b, 0);
          for (const [i, c] of chunks.entries()) {
            expect(c.length).toBeGreaterThan(0);
            expect(c.length).toBeLessThanOrEqual(maxItems);
            // Only an item too large on its own may overflow, alone.
            if (weight(c) > maxBytes) expect(c).toHaveLength(1);
            // Greedy: the next chunk's first item did not fit here.
            const next = chunks[i + 1];
            if (next) expect(c.length === maxItems || weight([...c, next[0]!]) > maxBytes).toBe(true);
          }
        },
      ),
      { seed: 15 },
    );
  });

  it('chunks by count alone, from any iterable', () => {
    expect(chunk(new Set([1, 2, 3, 4, 5]), { maxItems: 2 })).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], { maxItems: 2 })).toEqual([]);
  });
});

describe('chunks watched until taken', () => {
  it('resolves once the consumer has taken the last chunk, not when it is made', async () => {
    // Prepare
    const { chunks, allTaken } = watchTaken([1, 2]);
    let taken = false;
    void allTaken.then(() => (taken = true));
    const iterator = chunks[Symbol.asyncIterator]();

    // Act + Assess: after the last chunk, the consumer's next request ends it.
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    expect(await iterator.next()).toEqual({ value: 2, done: false });
    await Promise.resolve();
    expect(taken).toBe(false);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    await allTaken;
    expect(taken).toBe(true);
  });
});
