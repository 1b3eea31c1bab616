export interface ChunkLimits<T> {
  /** At most this many items per chunk (PutRecords 500, SendMessageBatch 10). */
  maxItems?: number;
  /** At most this many bytes per chunk, as `bytes` counts them, `emptyBytes` included. */
  maxBytes?: number;
  bytes?: (item: T) => number;
  /** What an empty chunk already weighs (a statement's template, an array's brackets). */
  emptyBytes?: number;
}

/**
 * Consecutive items in chunks that each fit the limits: the one chunker of statements, PutRecords
 * and SQS batch calls. An item too large for any chunk still gets one of its own, so nothing is
 * dropped here: whoever sends it learns of the refusal.
 */
export function chunk<T>(items: Iterable<T>, limits: ChunkLimits<T>): T[][] {
  const { maxItems = Infinity, maxBytes = Infinity, bytes, emptyBytes = 0 } = limits;
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = emptyBytes;
  for (const item of items) {
    const itemBytes = bytes ? bytes(item) : 0;
    if (current.length > 0 && (current.length >= maxItems || size + itemBytes > maxBytes)) {
      chunks.push(current);
      current = [];
      size = emptyBytes;
    }
    current.push(item);
    size += itemBytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The chunks as one async iterable, and a promise that resolves once its consumer has taken the
 * last: whoever makes a COPY's data goes on when it is all made, not when the server has written it.
 */
export function watchTaken<T>(chunks: Iterable<T> | AsyncIterable<T>): { chunks: AsyncIterable<T>; allTaken: Promise<void> } {
  let taken!: () => void;
  const allTaken = new Promise<void>((resolve) => (taken = resolve));
  return {
    chunks: (async function* () {
      yield* chunks;
      taken();
    })(),
    allTaken,
  };
}
