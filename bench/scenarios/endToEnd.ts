import { pathToFileURL } from 'node:url';
import { DeleteStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { putRecords, type PutEntry } from '#core/producer';
import { encodeRecord } from '#core/record';
import { createBrewery } from '#core/simulator/brewery';
import type { LocalEnvironment } from '../../local/environment.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { createStream, readWholeStream } from '../../test/helpers/kinesis.ts';
import { percentile, perSecond } from '../lib/stats.ts';
import { BENCH_SEED } from '../lib/syntheticBatches.ts';
import { chunk } from '#core/chunks';

export interface EmulatorCeiling {
  records: number;
  putPerSec: number;
  getPerSec: number;
  /** Put then get of the same records in this one process: what any pipeline here can pass. */
  putGetPerSec: number;
}

export interface EndToEndResult {
  stage: string;
  shards: number;
  batchSize: number;
  batchWindowSeconds: number;
  ceiling: EmulatorCeiling;
  throughput: { events: number; eventsPerSec: number; seconds: number; p50Ms: number; p99Ms: number };
  latency: { rate: number; seconds: number; events: number; p50Ms: number; p99Ms: number; maxMs: number };
  functionErrors: number;
}

const PUT_CHUNK = 500;
const PUTS_IN_FLIGHT = 4; // as the simulator (layers/core/src/simulator/run.ts)

/** PutRecords then GetRecords of `n` records on a scratch stream with the pipeline's shard count. */
export async function measureEmulatorCeiling(kinesis: KinesisClient, shards: number, n: number): Promise<EmulatorCeiling> {
  const stream = `tapline-bench-ceiling-${Date.now()}`;
  await createStream(kinesis, stream, shards);
  try {
    const brewery = createBrewery({ seed: BENCH_SEED });
    const entries: PutEntry[] = brewery.next(Date.now(), n).map((r) => ({ data: encodeRecord(r), partitionKey: r.source }));
    const chunks = chunk(entries, { maxItems: PUT_CHUNK });

    const t0 = performance.now();
    let failed = 0;
    const worker = async () => {
      for (let c = chunks.shift(); c; c = chunks.shift()) failed += (await putRecords(kinesis, stream, c)).failed.length;
    };
    await Promise.all(Array.from({ length: PUTS_IN_FLIGHT }, worker));
    const putMs = performance.now() - t0;
    if (failed > 0) throw new Error(`emulator ceiling: ${failed} records were not accepted`);

    const t1 = performance.now();
    const read = (await readWholeStream(kinesis, stream)).length;
    const getMs = performance.now() - t1;
    if (read !== n) throw new Error(`emulator ceiling: read ${read} of ${n} records`);
    return { records: n, putPerSec: perSecond(n, putMs), getPerSec: perSecond(n, getMs), putGetPerSec: perSecond(n, putMs + getMs) };
  } finally {
    await kinesis.send(new DeleteStreamCommand({ StreamName: stream }));
  }
}

/**
 * The whole local pipeline (simulator handler -> kinesalite -> event source mapping -> ingest
 * handler -> PostgreSQL, events -> SQS -> writer) with the stage's batching settings: first as many
 * events as the emulator accepts (throughput), then a steady rate at half that (latency).
 * Latency is ingested_at - ts of the rows: ingested_at is the writing transaction's start, and in
 * merge mode a row carries the newest reading of its (source, fact) in the batch.
 */
export async function runEndToEnd(o: {
  env: LocalEnvironment;
  events: number;
  latencySeconds: number;
  logFile: string;
  /** The simulator's and ingest's Lambda bundles, which their processes run. */
  bundles: { simulator: string; ingest: string };
  progress: (line: string) => void;
}): Promise<EndToEndResult> {
  const { env } = o;
  const config = env.config;
  o.progress(`e2e: emulator put/get ceiling (${o.events} records)`);
  const ceiling = await measureEmulatorCeiling(env.kinesis, config.stream.shards, o.events);

  const functionModules = { simulator: pathToFileURL(o.bundles.simulator), ingest: pathToFileURL(o.bundles.ingest) };
  const pipeline = new LocalPipeline(env, o.logFile, [], { simulatorProcess: true, ingestProcesses: true, functionModules });
  await pipeline.start();
  try {
    o.progress(`e2e: throughput, ${o.events} events as fast as the stream takes them`);
    const { seconds, sinceMs } = await fullSpeedRun(pipeline, env, o.events);
    const saturated = await latencies(env, sinceMs);

    const rate = Math.max(500, Math.min(20_000, Math.round((0.5 * o.events) / seconds / 100) * 100));
    o.progress(`e2e: latency at ${rate} events/s for ${o.latencySeconds} s`);
    const t1Wall = Date.now();
    const steady = await pipeline.simulate(rate, o.latencySeconds, BENCH_SEED);
    await waitForRecords(env, t1Wall, steady.sent, 120_000);
    const lat = await latencies(env, t1Wall);
    const snapshot = await pipeline.snapshot();
    return {
      stage: config.stage,
      shards: config.stream.shards,
      batchSize: config.ingest.batchSize,
      batchWindowSeconds: config.ingest.batchWindowSeconds,
      ceiling,
      throughput: { events: o.events, eventsPerSec: o.events / seconds, seconds, p50Ms: percentile(saturated, 50), p99Ms: percentile(saturated, 99) },
      latency: {
        rate,
        seconds: o.latencySeconds,
        events: steady.sent,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        maxMs: percentile(lat, 100),
      },
      functionErrors: snapshot.functionErrors,
    };
  } finally {
    await pipeline.stop();
  }
}

/** `events` put by the simulator handler as fast as the stream takes them, until all are stored. */
export async function fullSpeedRun(pipeline: LocalPipeline, env: LocalEnvironment, events: number): Promise<{ seconds: number; sinceMs: number }> {
  const sinceMs = Date.now();
  const t0 = performance.now();
  const sim = await pipeline.simulate(100_000, events / 100_000, BENCH_SEED);
  if (sim.sent !== events) throw new Error(`e2e: the simulator sent ${sim.sent} of ${events} events`);
  await waitForRecords(env, sinceMs, events, 120_000);
  return { seconds: (performance.now() - t0) / 1000, sinceMs };
}

/** Waits until rows written since `sinceMs` account for `records` readings (merged counts summed). */
async function waitForRecords(env: LocalEnvironment, sinceMs: number, records: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await env.db.query<{ n: number }>(`SELECT coalesce(sum(sample_count), 0)::int AS n FROM telemetry_events WHERE ts >= '${new Date(sinceMs).toISOString()}'`);
    const n = rows[0]?.n ?? 0;
    if (n >= records) return;
    if (Date.now() > until) throw new Error(`e2e: only ${n} of ${records} readings stored after ${timeoutMs / 1000} s`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

async function latencies(env: LocalEnvironment, sinceMs: number): Promise<number[]> {
  const { rows } = await env.db.query<{ ms: number }>(
    `SELECT (extract(epoch FROM ingested_at - ts) * 1000)::float8 AS ms FROM telemetry_events
      WHERE ts >= '${new Date(sinceMs).toISOString()}'`,
  );
  return rows.map((r) => r.ms);
}
