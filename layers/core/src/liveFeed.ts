import type { DerivedEvent } from './events.ts';
import type { MergedRow } from './merge.ts';

/** What one committed ingest batch added: its merged rows and the derived events it produced. */
export interface LiveBatch {
  rows: readonly MergedRow[];
  events: readonly DerivedEvent[];
}

export type LiveListener = (batch: LiveBatch) => void;

/**
 * Committed ingest batches, for watchers in the same process: the local analog of the original
 * design's Phoenix PubSub broadcast of every merged batch to its LiveView subscribers. Ingest
 * publishes after its transaction committed, so a watcher never sees a batch that was rolled back
 * or one twice (a redelivered batch writes no rows and derives nothing).
 *
 * In Lambda nothing subscribes: publishing is a loop over an empty set. A listener runs inside
 * the ingest invocation, so it must only record what it needs and return; it cannot fail the
 * batch: what it throws goes to its own `onError`, never back to ingest (the rows are stored).
 */
class LiveFeed {
  private readonly listeners = new Map<LiveListener, (error: unknown) => void>();

  subscribe(listener: LiveListener, onError: (error: unknown) => void): () => void {
    this.listeners.set(listener, onError);
    return () => this.listeners.delete(listener);
  }

  publish(batch: LiveBatch): void {
    for (const [listener, onError] of this.listeners) {
      try {
        listener(batch);
      } catch (e) {
        onError(e);
      }
    }
  }
}

export const liveFeed = new LiveFeed();
