import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStageConfig, type StageConfig } from '#config/stages';
import { putRecords } from '#core/producer';
import { encodeRecord, type TelemetryRecord } from '#core/record';
import { startLocalEnvironment, type LocalEnvironment } from '../../../local/environment.ts';
import { LocalPipeline, type PipelineHooks } from '../../../local/pipeline.ts';
import { accountDerived, accountTelemetry, auditOutbox, formatAccount, type DerivedAccount, type TelemetryAccount } from './accounting.ts';
import { chunk } from '#core/chunks';

/**
 * The settings every fault scenario shares: the local stage, with a writer timeout short enough
 * that a message the writer failed comes back within seconds (visibility = 6 x timeout + window),
 * not after three minutes. Everything else is the stage's own configuration.
 */
export function faultConfig(tweak: (c: StageConfig) => StageConfig = (c) => c): StageConfig {
  const local = loadStageConfig('local');
  return tweak({ ...local, writer: { ...local.writer, timeoutSeconds: 1, batchWindowSeconds: 1 } });
}

export interface FaultRun {
  env: LocalEnvironment;
  logDir: string;
  /** `maintenanceEveryMs`: invoke the maintenance function on that schedule, as EventBridge does. */
  pipeline(hooks?: PipelineHooks, opts?: { maintenanceEveryMs?: number }): LocalPipeline;
  /** Puts records on the stream beside the simulator (rule triggers, poison markers). */
  put(records: readonly TelemetryRecord[]): Promise<void>;
  account(pipeline: LocalPipeline, injectedEvents?: readonly string[]): Promise<{ telemetry: TelemetryAccount; derived: DerivedAccount }>;
  stop(): Promise<void>;
}

export async function startFaultRun(config: StageConfig): Promise<FaultRun> {
  const env = await startLocalEnvironment({ config });
  // Injected faults make the functions log errors by design; the accounting table is the output.
  env.functionEnv.POWERTOOLS_LOG_LEVEL = 'CRITICAL';
  const logDir = await mkdtemp(join(tmpdir(), 'tapline-faults-'));
  await auditOutbox(env);
  return {
    env,
    logDir,
    pipeline: (hooks = {}, opts = {}) => {
      const every = opts.maintenanceEveryMs;
      const pipeline: LocalPipeline = new LocalPipeline(
        env,
        LocalPipeline.logFileIn(logDir),
        every ? [{ name: 'maintenance', everyMs: every, run: () => pipeline.maintain() }] : [],
        hooks,
      );
      return pipeline;
    },
    async put(records) {
      const result = await putRecords(
        env.kinesis,
        env.streamName,
        records.map((r) => ({ data: encodeRecord(r), partitionKey: r.source })),
      );
      if (result.failed.length > 0) throw new Error(`${result.failed.length} side record(s) not accepted by the stream`);
    },
    async account(pipeline, injectedEvents = []) {
      const deduplicated = pipeline.metric('RedeliveredRecords') + pipeline.metric('DuplicateReadings');
      return { telemetry: await accountTelemetry(env, deduplicated), derived: await accountDerived(env, injectedEvents) };
    },
    async stop() {
      await env.stop();
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

/**
 * Valid readings that each fire the vessel_over_pressure rule once (a new source whose pressure is
 * above 2.5 bar), so a scenario has a steady flow of derived events to lose or keep.
 */
export function ruleTriggers(tag: string, count: number, nowMs = Date.now()): TelemetryRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    v: 1,
    id: `${tag}-trigger-${i}`,
    source: `${tag}_${String(i).padStart(4, '0')}`,
    fact: 'pressure_bar',
    ts: new Date(nowMs - 1_000 + i).toISOString(),
    value: 3.1,
  }));
}

/** Puts `records` spread evenly over `durationMs`, a few at a time, beside the simulator. */
export async function trickle(run: FaultRun, records: readonly TelemetryRecord[], durationMs: number, groups = 20): Promise<void> {
  for (const group of chunk(records, { maxItems: Math.ceil(records.length / groups) })) {
    await run.put(group);
    await new Promise((ok) => setTimeout(ok, durationMs / groups));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** Prints the accounting table where vitest shows it (stdout of the test). */
export function report(scenario: string, a: { telemetry: TelemetryAccount; derived: DerivedAccount }, notes: string[] = []): void {
  console.log(`\n${formatAccount(scenario, a.telemetry, a.derived, notes)}\n`);
}
