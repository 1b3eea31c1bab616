import type { SqlSession } from '#core/db/session';
import { liveFeed } from '#core/liveFeed';
import type { LocalPipeline, PipelineSnapshot, PipelineSummary } from '../pipeline.ts';
import { LiveState, type LiveEvent, type TailPoint } from './liveState.ts';
import { Hub, type Viewer, type ViewerStatus } from './viewers.ts';
import { ingestDelay, latestOee, recentDerived, recentRollups, type DelayPoint, type OeeRow, type RollupPoint } from './warehouseQueries.ts';

/** [time (ms), produced/s, ingested/s, iterator lag (ms)] of one tick. */
export type RatePoint = [tMs: number, produced: number, ingested: number, lagMs: number];

export interface ViewOptions {
  /** live: beside a running pipeline (`npm run local`); dashboard: from the warehouse alone. */
  mode: 'live' | 'dashboard';
  db: SqlSession;
  pipeline?: LocalPipeline;
  /** How often the feed's points and events go out; the pipeline's snapshot every other tick. */
  tickMs?: number;
  /** How often the one shared warehouse query runs (rollups, OEE; in a dashboard also events and delay). */
  pollMs?: number;
  /** Per viewer: bytes sent and not yet acknowledged before its frames are dropped. */
  windowBytes?: number;
}

/** Everything a viewer that just connected (or caught up after drops) needs to draw the page. */
export interface ViewState {
  mode: ViewOptions['mode'];
  viewer: ViewerStatus;
  series: string[];
  rates: RatePoint[];
  snapshot: PipelineSnapshot | null;
  events: LiveEvent[];
  oee: OeeRow[];
  delay: DelayPoint[];
  summary: PipelineSummary | null;
  problems: Record<string, string>;
}

/** About five seconds of frames at the local stage's rates: a page that acknowledges once a second never gets near it. */
export const DEFAULT_WINDOW_BYTES = 128 * 1024;
const ROLLUP_MINUTES = 60;
const DELAY_MINUTES = 30;
const RECENT_DERIVED = 100;
const MAX_RATES = 900;
const MAX_VIEWERS_LISTED = 50;

/**
 * The data behind the page, computed once for all viewers: per tick one pipeline snapshot and the
 * points the feed collected; every few seconds one warehouse query. Each result is encoded once
 * and offered to every viewer (Hub), so viewers add sockets, not work upstream: the pipeline does
 * not know they exist, and the database sees the same queries for one viewer or fifty.
 */
export class View {
  readonly hub: Hub;
  private readonly live = new LiveState();
  private rollups = new Map<string, RollupPoint[]>();
  private rollupSeen = new Map<string, string>();
  private oee: OeeRow[] = [];
  private delay: DelayPoint[] = [];
  private rates: RatePoint[] = [];
  private snapshot: PipelineSnapshot | null = null;
  private summary: PipelineSummary | null = null;
  private derivedSeen = new Set<string>();
  private readonly problems: Record<string, string> = {};
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private unsubscribe?: () => void;
  private ticks = 0;
  /** Set by the feed's error handler (inside ingest, where nothing is sent); the next tick sends it. */
  private feedFailed = false;

  constructor(private readonly o: ViewOptions) {
    this.hub = new Hub(o.windowBytes ?? DEFAULT_WINDOW_BYTES);
  }

  get mode(): ViewOptions['mode'] {
    return this.o.mode;
  }

  start(): void {
    if (this.o.pipeline) {
      this.unsubscribe = liveFeed.subscribe(
        (batch) => this.live.record(batch),
        (e) => {
          this.problems.feed = `live feed: ${(e as Error).message}`;
          this.feedFailed = true;
        },
      );
    }
    this.every(this.o.tickMs ?? 1_000, () => this.tick());
    this.every(this.o.pollMs ?? 5_000, () => this.poll());
    this.track(this.poll());
  }

  /** Sends the last points and the run's summary, which the page keeps showing after the run. */
  async finish(summary: PipelineSummary): Promise<void> {
    await Promise.all(this.running);
    await this.tick(true);
    await this.poll();
    this.summary = summary;
    this.hub.broadcast('summary', summary);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe?.();
    await Promise.all(this.running);
    this.hub.closeAll();
  }

  /** What a viewer is sent on connecting: hello (its id, for acknowledgements and the viewers list), then the state. */
  welcome(viewer: Viewer): void {
    this.hub.sendTo(viewer, 'hello', { viewer: viewer.id, mode: this.o.mode, windowBytes: this.hub.windowBytes });
    this.hub.sendState(viewer, this.stateFor(viewer));
  }

  stateFor(viewer: Viewer): ViewState {
    return {
      mode: this.o.mode,
      viewer: viewer.status(),
      series: [...new Set([...this.live.seriesKeys(), ...this.rollups.keys()])].sort(),
      rates: this.rates,
      snapshot: this.snapshot,
      events: this.live.recent(),
      oee: this.oee,
      delay: this.delay,
      summary: this.summary,
      problems: this.problems,
    };
  }

  /** One series' history from memory: the feed's tail and the last hour of telemetry_1min. */
  series(key: string): { tail: TailPoint[]; rollup: RollupPoint[] } {
    return { tail: this.live.tail(key), rollup: this.rollups.get(key) ?? [] };
  }

  private every(ms: number, run: () => Promise<void>): void {
    let busy = false;
    this.timers.push(
      setInterval(() => {
        if (busy) return; // a slow database or queue delays the next tick; ticks never pile up
        busy = true;
        this.track(run().finally(() => (busy = false)));
      }, ms),
    );
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private async tick(final = false): Promise<void> {
    // The snapshot asks the queues for their depths: every other tick is live enough (the
    // terminal's progress line has one every two seconds).
    if (this.o.pipeline && (final || this.ticks++ % 2 === 0)) await this.report('pipeline', () => this.sample(this.o.pipeline!));
    if (this.feedFailed) {
      this.feedFailed = false;
      this.hub.broadcast('problems', this.problems);
    }
    const { points, events, eventsOmitted } = this.live.flush();
    if (Object.keys(points).length > 0) this.hub.broadcast('points', { points });
    if (events.length > 0 || eventsOmitted > 0) this.hub.broadcast('derived', { events, omitted: eventsOmitted });
    const viewers = this.hub.all();
    for (const v of viewers) {
      // A viewer that dropped frames has gaps: once it has caught up, it gets the whole state again.
      if (v.needsResync && v.caughtUp) {
        v.needsResync = false;
        this.hub.sendState(v, this.stateFor(v));
      }
    }
    // Each page finds itself in the list by its id (from hello).
    this.hub.broadcast('viewers', { viewers: viewers.slice(0, MAX_VIEWERS_LISTED).map((v) => v.status()), connected: viewers.length });
  }

  private async sample(pipeline: LocalPipeline): Promise<void> {
    const s = await pipeline.snapshot();
    const prev = this.snapshot;
    const seconds = Math.max(0.001, (s.elapsedMs - (prev?.elapsedMs ?? 0)) / 1000);
    const rate: RatePoint = [Date.now(), (s.arrived - (prev?.arrived ?? 0)) / seconds, (s.ingested - (prev?.ingested ?? 0)) / seconds, s.lagMs];
    this.snapshot = s;
    this.rates.push(rate);
    if (this.rates.length > MAX_RATES) this.rates.splice(0, this.rates.length - MAX_RATES);
    this.hub.broadcast('tick', { snapshot: s, rate });
  }

  private async poll(): Promise<void> {
    await this.report('warehouse', async () => {
      const { db } = this.o;
      const rows = await recentRollups(db, ROLLUP_MINUTES);
      const rollups = new Map<string, RollupPoint[]>();
      const seen = new Map<string, string>();
      const changed: Array<[string, ...RollupPoint]> = [];
      for (const r of rows) {
        let series = rollups.get(r.key);
        if (!series) rollups.set(r.key, (series = []));
        series.push(r.point);
        const id = `${r.key}@${r.point[0]}`;
        const version = `${r.point[4]}@${r.lastTsMs}`;
        seen.set(id, version);
        if (this.rollupSeen.get(id) !== version) changed.push([r.key, ...r.point]);
      }
      this.rollups = rollups;
      this.rollupSeen = seen;
      if (changed.length > 0) this.hub.broadcast('rollup', { buckets: changed });

      const oee = await latestOee(db);
      if (JSON.stringify(oee) !== JSON.stringify(this.oee)) this.hub.broadcast('oee', { units: oee });
      this.oee = oee;

      if (this.o.mode === 'dashboard') {
        // No feed here: what the writer stored is the history, and what is new since the last poll.
        const derived = await recentDerived(db, RECENT_DERIVED);
        this.live.addEvents(derived.filter((e) => !this.derivedSeen.has(e.id)));
        this.derivedSeen = new Set(derived.map((e) => e.id));
        this.delay = await ingestDelay(db, DELAY_MINUTES);
        this.hub.broadcast('warehouse', { delay: this.delay });
      }
    });
  }

  /** A failing snapshot or query is shown on the page (and retried next time), never fatal to the run. */
  private async report(part: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
      if (this.problems[part] !== undefined) {
        delete this.problems[part];
        this.hub.broadcast('problems', this.problems);
      }
    } catch (e) {
      this.problems[part] = `${part}: ${(e as Error).message}`;
      this.hub.broadcast('problems', this.problems);
    }
  }
}
