import type { AnomalyEvent, DerivedEvent, RuleEvent } from '#core/events';
import type { LiveBatch } from '#core/liveFeed';
import { numericOf } from '#core/record';

/**
 * One series over one tick: the newest merged row's value and time, the min/max over every row of
 * the tick, and how many samples they merged. `text` holds a value that is not a number (a state).
 */
export type TailPoint = [tsMs: number, last: number | null, min: number | null, max: number | null, count: number, text: string | null];

/** A rule firing or an anomaly as the page lists it (the derived event without its envelope). */
export type LiveEvent = Omit<RuleEvent, 'v' | 'rulesVersion'> | Omit<AnomalyEvent, 'v'>;

export function toLiveEvent(e: DerivedEvent): LiveEvent {
  if (e.kind === 'rule') {
    const { v: _v, rulesVersion: _r, ...rest } = e;
    return rest;
  }
  const { v: _v, ...rest } = e;
  return rest;
}

/** `${source}/${fact}`: names match NAME_PATTERN, which has no '/'. */
export const seriesKey = (source: string, fact: string): string => `${source}/${fact}`;

export interface TickFlush {
  points: Record<string, TailPoint>;
  events: LiveEvent[];
  /** Derived events past the per-tick cap: stored all the same, just not listed live. */
  eventsOmitted: number;
}

/**
 * What the live view keeps of the committed batches, so that a tick costs the same whatever the
 * ingest rate: each batch only updates one pending point per series (O(rows)); once per tick the
 * pending points become the tail of each series and one message for every viewer. Memory is
 * bounded: a tail per series, a capped number of series and of recent events.
 */
export class LiveState {
  private pending = new Map<string, TailPoint>();
  private pendingEvents: LiveEvent[] = [];
  private omitted = 0;
  private readonly tails = new Map<string, TailPoint[]>();
  private readonly recentEvents: LiveEvent[] = [];
  /** Series past `maxSeries` (a producer inventing sources): counted, not charted. */
  seriesOmitted = 0;

  constructor(private readonly o: { tailPoints: number; maxSeries: number; recentEvents: number } = { tailPoints: 600, maxSeries: 2_000, recentEvents: 200 }) {}

  record(batch: LiveBatch): void {
    for (const row of batch.rows) {
      const key = seriesKey(row.source, row.fact);
      const tsMs = row.tsUs / 1000;
      const n = numericOf(row.value);
      const text = n === null ? String(row.value) : null;
      const p = this.pending.get(key);
      if (!p) {
        if (!this.tails.has(key) && this.tails.size + this.pending.size >= this.o.maxSeries) {
          this.seriesOmitted++;
          continue;
        }
        this.pending.set(key, [tsMs, n, row.min, row.max, row.count, text]);
        continue;
      }
      if (tsMs >= p[0]) {
        p[0] = tsMs;
        p[1] = n;
        p[5] = text;
      }
      p[2] = minOf(p[2], row.min);
      p[3] = maxOf(p[3], row.max);
      p[4] += row.count;
    }
    this.addEvents(batch.events.map(toLiveEvent));
  }

  /** Events from elsewhere (the warehouse, in the dashboard): listed like the feed's own. */
  addEvents(events: readonly LiveEvent[]): void {
    const room = this.o.recentEvents - this.pendingEvents.length;
    this.pendingEvents.push(...events.slice(0, Math.max(0, room)));
    this.omitted += Math.max(0, events.length - Math.max(0, room));
  }

  /** Ends the tick: pending points join their series' tails; returns what viewers are sent. */
  flush(): TickFlush {
    const points = Object.fromEntries(this.pending);
    for (const [key, point] of this.pending) {
      let tail = this.tails.get(key);
      if (!tail) this.tails.set(key, (tail = []));
      tail.push(point);
      if (tail.length > this.o.tailPoints) tail.splice(0, tail.length - this.o.tailPoints);
    }
    this.pending = new Map();
    const events = this.pendingEvents;
    this.recentEvents.push(...events);
    if (this.recentEvents.length > this.o.recentEvents) this.recentEvents.splice(0, this.recentEvents.length - this.o.recentEvents);
    const eventsOmitted = this.omitted;
    this.pendingEvents = [];
    this.omitted = 0;
    return { points, events, eventsOmitted };
  }

  tail(key: string): TailPoint[] {
    return this.tails.get(key) ?? [];
  }

  /** The newest events, oldest first (what a viewer that just connected is shown). */
  recent(): LiveEvent[] {
    return [...this.recentEvents];
  }

  seriesKeys(): string[] {
    return [...this.tails.keys()];
  }
}

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
