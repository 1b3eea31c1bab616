import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { kinesisClient } from '#core/aws';
import { readEnv, requireSetting } from '#core/env';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';
import { runSimulation, type SimulationReport } from '#core/simulator/run';

const env = readEnv();
const streamName = requireSetting(env, 'STREAM_NAME');
const kinesis = kinesisClient(env.AWS_REGION);

/**
 * The event may override the configured plan. Loose on purpose: an EventBridge scheduled event
 * (which carries none of these keys) runs the configured plan unchanged.
 */
const OverridesSchema = z.looseObject({
  rate: z.number().int().positive().max(100_000).optional(),
  durationSeconds: z.number().positive().max(900).optional(),
  seed: z.number().int().optional(),
  /** Off unless asked for: a fraction of readings sent invalid, to exercise the dead-letter path. */
  invalidRate: z.number().min(0).lt(1).optional(),
  /** KPL aggregated records or one Kinesis record per reading; default: SIMULATOR_AGGREGATE. */
  aggregate: z.boolean().optional(),
});

export class InvalidSimulatorEventError extends Error {
  override readonly name = 'InvalidSimulatorEventError';
}

/** What the schedule (or `npm run local`) gets back: the run's report without the per-code breakdown. */
export type SimulatorResponse = Omit<SimulationReport, 'failureCodes'>;

export const lambdaHandler = async (event: unknown, context: Context): Promise<SimulatorResponse> => {
  const overrides = OverridesSchema.safeParse(event ?? {});
  if (!overrides.success) {
    throw new InvalidSimulatorEventError(overrides.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const plan = {
    rate: overrides.data.rate ?? env.SIMULATOR_RATE,
    durationSeconds: overrides.data.durationSeconds ?? env.SIMULATOR_DURATION_SECONDS,
    seed: overrides.data.seed ?? env.SIMULATOR_SEED,
    invalidRate: overrides.data.invalidRate ?? 0,
    aggregate: overrides.data.aggregate ?? env.SIMULATOR_AGGREGATE,
  };
  const { failureCodes, ...report } = await runSimulation(plan, {
    client: kinesis,
    streamName,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  metrics.addMetric(MetricName.SimulatorRecordsProduced, MetricUnit.Count, report.produced);
  metrics.addMetric(MetricName.SimulatorRecordsSent, MetricUnit.Count, report.sent);
  metrics.addMetric(MetricName.SimulatorRecordsFailed, MetricUnit.Count, report.failed);
  metrics.addMetric(MetricName.SimulatorKinesisRecordsPut, MetricUnit.Count, report.kinesisRecords);
  metrics.addMetric(MetricName.SimulatorRecordsRetried, MetricUnit.Count, report.retries);
  metrics.addMetric(MetricName.SimulatorRecordsThrottled, MetricUnit.Count, report.throttled);
  if (report.failed > 0) logger.error('records finally failed', { ...plan, ...report, failureCodes });
  else logger.info('simulation done', { ...plan, ...report });
  return report;
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
