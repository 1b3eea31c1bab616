import type { StageConfig } from '#config/stages';
import { MetricName } from '../metricNames.ts';
import { encodeRecord } from '../record.ts';
import { createBrewery } from '../simulator/brewery.ts';
import { SIMULATOR_TICK_MS } from '../simulator/run.ts';
import { MAX_UNITS, unitSource } from '../simulator/vocabulary.ts';
import type { Aggregation, CostDeployment, CostInputs, IngestProfile } from './model.ts';

/** A stage's cost inputs at a steady rate: plain and aggregated records, and the one the stage puts. */
export interface StageCostInputs {
  plain: CostInputs;
  aggregated: CostInputs;
  /** As configured: simulator.aggregate says which records its producer puts. */
  inputs: CostInputs;
  recordBytes: number;
}

export function stageCostInputs(config: StageConfig, eventsPerSecond: number, profile: IngestProfile): StageCostInputs {
  // The simulator's readings stand for a typical device record.
  const sample = createBrewery({ seed: 42 }).next(Date.UTC(2026, 0, 1), 5_000);
  const recordBytes = sample.reduce((a, r) => a + encodeRecord(r).byteLength, 0) / sample.length;
  /** How the simulator aggregates (simulator/run.ts): every tick, one aggregate per brewery unit. */
  const aggregation: Aggregation = { partitionKeys: MAX_UNITS, flushSeconds: SIMULATOR_TICK_MS / 1000, partitionKeyBytes: Buffer.byteLength(unitSource(0)) };
  const plain: CostInputs = { eventsPerSecond, recordBytes, deployment: deploymentOf(config), profile };
  const aggregated: CostInputs = { ...plain, aggregation };
  return { plain, aggregated, inputs: config.simulator.aggregate ? aggregated : plain, recordBytes };
}

/**
 * The deployed shape of a stage, as infra/ builds it: observability counts follow
 * infra/constructs/observability.ts (13 pipeline alarms, error rate (2 metrics) + throttles per
 * function; one custom metric per name of metricNames.ts), VPC endpoints follow
 * infra/constructs/network.ts (SQS, Secrets Manager, Kinesis in two AZs, only when functions run
 * in the VPC next to RDS).
 */
export function deploymentOf(c: StageConfig): CostDeployment {
  const functions = 4; // ingest, writer, simulator, maintenance
  return {
    stage: c.stage,
    stream: c.stream,
    ingest: c.ingest,
    writer: c.writer,
    database:
      c.database.mode === 'rds'
        ? { mode: 'rds', instanceClass: c.database.instanceClass, allocatedStorageGb: c.database.allocatedStorageGb, multiAz: c.database.multiAz }
        : c.database,
    logRetentionDays: c.logRetentionDays,
    observability: { alarmMetrics: 13 + functions * 3, dashboards: 1, customMetrics: Object.keys(MetricName).length },
    vpc: { interfaceEndpoints: 3, availabilityZones: 2 },
    simulator: c.simulator,
    kmsKeys: 1,
  };
}
