import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { liveFeed, type LiveBatch } from '#core/liveFeed';
import type { LocalEnvironment } from '../../local/environment.ts';
import { startView } from '../../local/live/startView.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { median, pairedRatio } from '../lib/stats.ts';
import { fullSpeedRun } from './endToEnd.ts';

export interface LiveViewCost {
  viewers: number;
  rounds: number;
  events: number;
  /** Events/s of the full-speed end-to-end run per round, without the live view and with it. */
  withoutPerSec: number[];
  withPerSec: number[];
  /** Median of the per-round ratios with / without (1 = no cost). */
  ratio: number;
  /**
   * CPU time of this process (emulators, handlers, the view; not PostgreSQL's own processes) per
   * 1,000 events, without and with: less disturbed by other work on the machine than events/s.
   */
  cpuMsPerThousandWithout: number[];
  cpuMsPerThousandWith: number[];
  /** Frames the server dropped for the stalled viewer, and for the reading ones (summed). */
  stalledDropped: number;
  readersDropped: number;
  /** Median frames each reading viewer read during a run. */
  framesPerReader: number;
  /**
   * The view's own CPU, measured apart from the pipeline's noise: the warm-up run's committed
   * batches replayed through the feed at their pace with the pipeline idle, without and with the
   * view and its viewers, in pairs; the median difference per 1,000 events, against the pipeline's
   * own CPU per 1,000 events (median of the runs without).
   */
  replay: { events: number; seconds: number; pairs: number; viewCpuMsPerThousand: number; shareOfPipelineCpu: number };
}

/**
 * What the live view costs the pipeline: the end-to-end full-speed run (as the e2e scenario) in
 * rounds, each timed once with no live view at all (as `--no-ui`, and as in Lambda) and once with
 * the view serving `viewers` viewers from another process, one of them stalled (never reads). The
 * order alternates per round, so a neighbour's load or a warming cache does not favour one side.
 */
export async function runLiveViewCost(o: {
  env: LocalEnvironment;
  events: number;
  viewers: number;
  rounds: number;
  logFile: string;
  progress: (line: string) => void;
}): Promise<LiveViewCost> {
  const pipeline = new LocalPipeline(o.env, o.logFile);
  await pipeline.start();
  try {
    o.progress(`live view: warm-up, ${o.events} events (its committed batches recorded for the replay)`);
    const recorded: Array<{ atMs: number; batch: LiveBatch }> = [];
    const t0 = performance.now();
    let recordingFailed: unknown;
    const unsubscribe = liveFeed.subscribe(
      (batch) => recorded.push({ atMs: performance.now() - t0, batch }),
      (e) => (recordingFailed = e),
    );
    await fullSpeedRun(pipeline, o.env, o.events);
    unsubscribe();
    if (recordingFailed) throw recordingFailed;
    const withoutPerSec: number[] = [];
    const withPerSec: number[] = [];
    let stalledDropped = 0;
    let readersDropped = 0;
    const frames: number[] = [];
    const cpuWithout: number[] = [];
    const cpuWith: number[] = [];
    const timed = async (perSec: number[], cpu: number[]) => {
      const before = process.cpuUsage();
      const { seconds } = await fullSpeedRun(pipeline, o.env, o.events);
      const used = process.cpuUsage(before);
      perSec.push(o.events / seconds);
      cpu.push((used.user + used.system) / 1000 / (o.events / 1000));
    };
    const bare = () => timed(withoutPerSec, cpuWithout);
    const watched = async () => {
      const live = await startView({ mode: 'live', db: o.env.db, pipeline }, 0);
      const clients = startViewers(live.url, o.viewers);
      try {
        await clients.ready;
        await timed(withPerSec, cpuWith);
        const dropped = live.view.hub
          .all()
          .map((v) => v.status().dropped)
          .sort((a, b) => b - a);
        stalledDropped += dropped[0] ?? 0;
        readersDropped += dropped.slice(1).reduce((a, b) => a + b, 0);
        frames.push(...(await clients.stop()));
      } finally {
        clients.kill();
        await live.close();
      }
    };
    for (let r = 0; r < o.rounds; r++) {
      o.progress(`live view: round ${r + 1} of ${o.rounds}, ${o.events} events without and with ${o.viewers} viewers (1 stalled)`);
      for (const run of r % 2 === 0 ? [bare, watched] : [watched, bare]) await run();
    }
    // The pipeline's idle CPU (its pollers) wanders by about 10 ms/s; pairs in alternating order,
    // and the median of their differences, keep that out of the view's share.
    const pairs = Math.max(3, Math.ceil(o.rounds / 2));
    o.progress(`live view: replaying ${recorded.length} batches ${pairs} times without and with the view, the pipeline idle`);
    const differences: number[] = [];
    for (let r = 0; r < pairs; r++) {
      let bare = 0;
      let watched = 0;
      for (const withView of r % 2 === 0 ? [false, true] : [true, false]) {
        if (!withView) {
          bare = await replay(recorded);
          continue;
        }
        const live = await startView({ mode: 'live', db: o.env.db, pipeline }, 0);
        const clients = startViewers(live.url, o.viewers);
        try {
          await clients.ready;
          watched = await replay(recorded);
          await clients.stop();
        } finally {
          clients.kill();
          await live.close();
        }
      }
      differences.push(watched - bare);
    }
    const replayed = recorded.reduce((n, r) => n + r.batch.rows.reduce((m, row) => m + row.count, 0), 0);
    const viewCpuMsPerThousand = median(differences) / (replayed / 1000);
    return {
      viewers: o.viewers,
      rounds: o.rounds,
      events: o.events,
      withoutPerSec,
      withPerSec,
      ratio: pairedRatio(withPerSec, withoutPerSec),
      cpuMsPerThousandWithout: cpuWithout,
      cpuMsPerThousandWith: cpuWith,
      stalledDropped,
      readersDropped,
      framesPerReader: median(frames),
      replay: {
        events: replayed,
        seconds: (recorded.at(-1)?.atMs ?? 0) / 1000,
        pairs,
        viewCpuMsPerThousand,
        shareOfPipelineCpu: viewCpuMsPerThousand / median(cpuWithout),
      },
    };
  } finally {
    await pipeline.stop();
  }
}

/** Publishes the recorded batches at their recorded pace; returns this process's CPU ms meanwhile. */
async function replay(recorded: ReadonlyArray<{ atMs: number; batch: LiveBatch }>): Promise<number> {
  const before = process.cpuUsage();
  const t0 = performance.now();
  for (const { atMs, batch } of recorded) {
    const wait = atMs - (performance.now() - t0);
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    liveFeed.publish(batch);
  }
  // The last tick and poll of what was published.
  await new Promise((ok) => setTimeout(ok, 2_000));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

function startViewers(url: string, count: number): { ready: Promise<void>; stop(): Promise<number[]>; kill(): void } {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/viewerProcess.ts', url, String(count)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const next = (): Promise<string> =>
    new Promise((ok, fail) => {
      lines.once('line', ok);
      child.once('exit', () => fail(new Error(`the viewers' process exited: ${stderr}`)));
    });
  return {
    ready: next().then((line) => {
      if (line !== 'ready') throw new Error(`the viewers' process said ${line}`);
    }),
    async stop() {
      const report = next();
      child.stdin.end();
      const { frames } = JSON.parse(await report) as { frames: number[] };
      await exited;
      return frames;
    },
    kill: () => child.kill(),
  };
}
