import { putRecords, type PutOptions, type PutRecordsClient, type PutResult } from '../producer.ts';
import { encodeRecord } from '../record.ts';
import { createBrewery } from './brewery.ts';
import { invalidInjector } from './invalidRecords.ts';

export interface SimulationPlan {
  /** records per second */
  rate: number;
  durationSeconds: number;
  seed: number;
  /** Fraction of readings sent invalid on purpose, to exercise the dead-letter path (default 0: none). */
  invalidRate?: number;
  /**
   * Put the readings of each tick as KPL aggregated records, one source per aggregate (default
   * false: one Kinesis record per reading). A failed aggregate is resent whole.
   */
  aggregate?: boolean;
}

export interface SimulationDeps {
  client: PutRecordsClient;
  streamName: string;
  /** time left before the platform ends the run (Lambda: context.getRemainingTimeInMillis) */
  remainingMs: () => number;
  /** production stops when this much time is left, so puts in flight and their retries can finish */
  safetyMarginMs?: number;
  tickMs?: number;
  /** PutRecords calls (ticks) in flight at once; a slow stream slows production instead of piling up */
  maxInFlight?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  put?: PutOptions;
}

/** produced, sent, invalid and failed count readings; kinesisRecords, retries and throttled count Kinesis records. */
export interface SimulationReport {
  produced: number;
  sent: number;
  /** of the readings sent, those made invalid on purpose (plan.invalidRate) */
  invalid: number;
  /** readings that still failed after the producer's last attempt */
  failed: number;
  /** Kinesis records the stream accepted: one per reading sent, or one per aggregate */
  kinesisRecords: number;
  retries: number;
  throttled: number;
  /** true when the run ended before its duration to respect the safety margin */
  stoppedEarly: boolean;
  /** final failures (readings) by Kinesis error code */
  failureCodes: Record<string, number>;
}

/** How often the simulator puts what is due: with aggregation, each source's readings of one tick share a Kinesis record. */
export const SIMULATOR_TICK_MS = 100;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Produce rate x durationSeconds brewery readings to the stream, in ticks. Each tick produces what
 * is due by the clock, so timer drift or a slow put is caught up rather than lost.
 */
export async function runSimulation(plan: SimulationPlan, deps: SimulationDeps): Promise<SimulationReport> {
  const { client, streamName, remainingMs, safetyMarginMs = 8_000, tickMs = SIMULATOR_TICK_MS, maxInFlight = 4 } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const brewery = createBrewery({ seed: plan.seed });
  const total = Math.floor(plan.rate * plan.durationSeconds);
  const durationMs = plan.durationSeconds * 1000;
  const report: SimulationReport = { produced: 0, sent: 0, invalid: 0, failed: 0, kinesisRecords: 0, retries: 0, throttled: 0, stoppedEarly: false, failureCodes: {} };
  const putOptions = { ...deps.put, aggregate: plan.aggregate ?? false };
  const breakReading = invalidInjector(plan.seed, plan.invalidRate ?? 0);
  const inFlight = new Set<Promise<void>>();
  let putError: unknown;

  const add = (result: PutResult, invalid: ReadonlySet<number>) => {
    report.sent += result.sent;
    report.invalid += invalid.size - result.failed.filter((f) => invalid.has(f.index)).length;
    report.failed += result.failed.length;
    report.kinesisRecords += result.kinesisRecords;
    report.retries += result.retries;
    report.throttled += result.throttled;
    for (const f of result.failed) report.failureCodes[f.errorCode] = (report.failureCodes[f.errorCode] ?? 0) + 1;
  };

  const start = now();
  while (report.produced < total) {
    if (remainingMs() <= safetyMarginMs) {
      report.stoppedEarly = true;
      break;
    }
    const elapsedMs = Math.min(now() - start, durationMs);
    const due = Math.min(total, Math.floor((plan.rate * elapsedMs) / 1000));
    if (due > report.produced) {
      const records = brewery.next(start + elapsedMs, due - report.produced);
      report.produced = due;
      const invalid = new Set<number>();
      const entries = records.map((r, i) => {
        const broken = breakReading(r);
        if (broken) invalid.add(i);
        return { data: broken ?? encodeRecord(r), partitionKey: r.source };
      });
      const put: Promise<void> = putRecords(client, streamName, entries, putOptions)
        .then(
          (result) => add(result, invalid),
          (error: unknown) => {
            putError ??= error;
          },
        )
        .finally(() => inFlight.delete(put));
      inFlight.add(put);
    }
    if (report.produced >= total) break;
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    await sleep(tickMs);
  }
  await Promise.all(inFlight);
  // putRecords reports Kinesis failures as values; what reaches here is a bug (bad options), not an outage
  if (putError !== undefined) throw putError;
  return report;
}
