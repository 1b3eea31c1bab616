import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { liveFeed } from '#core/liveFeed';
import { MetricName } from '#core/metricNames';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.ts';
import { LocalPipeline } from '../../local/pipeline.ts';

let env: LocalEnvironment;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tapline-procs-'));
  env = await startLocalEnvironment({ config: loadStageConfig('local') });
});
afterAll(async () => {
  await env?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the pipeline with its functions in processes of their own (the bench: one sandbox per concurrent batch)', () => {
  it('stores every reading once, and the functions’ metrics still reach the pipeline from their processes', async () => {
    // Prepare
    const pipeline = new LocalPipeline(env, LocalPipeline.logFileIn(dir), [], { simulatorProcess: true, ingestProcesses: true });
    await pipeline.start();
    // Ingest publishes each committed batch to the live feed of the process it runs in: none here.
    let batchesHere = 0;
    const unsubscribe = liveFeed.subscribe(
      () => batchesHere++,
      () => undefined,
    );
    try {
      // Act
      const sim = await pipeline.simulate(2_000, 2, 42);
      const drained = await pipeline.drain(60_000);
      const snapshot = await pipeline.snapshot();

      // Assess
      expect(drained).toBe(true);
      const { rows } = await env.db.query<{ n: number }>('SELECT coalesce(sum(sample_count), 0)::int AS n FROM telemetry_events');
      expect(rows[0]?.n).toBe(sim.sent);
      expect(pipeline.metric(MetricName.ReadingsWritten)).toBe(sim.sent);
      expect(snapshot.functionErrors).toBe(0);
      expect(batchesHere).toBe(0);
    } finally {
      unsubscribe();
      await pipeline.stop();
    }
  });
});
