import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { database } from '#core/db/instance';
import { logger, metrics } from '#core/observability';
import { runMaintenance, type MaintenanceReport } from '#core/warehouse/maintenance';

/**
 * Scheduled (EventBridge, every maintenance.scheduleMinutes): the warehouse maintenance step. On
 * plain PostgreSQL it keeps partitions, rollups, OEE and retention; on TimescaleDB the policies'
 * settings and OEE (the policies do the rest).
 * A failure is recorded in maintenance_runs by runMaintenance and rethrown, so the invocation
 * fails, the Errors alarm sees it, and the next schedule retries (every step is idempotent).
 */
export async function lambdaHandler(): Promise<MaintenanceReport> {
  const report = await runMaintenance(await database());
  if (report.rollups?.status === 'done') {
    const r = report.rollups.result;
    metrics.addMetric('RollupBucketsWritten', MetricUnit.Count, r['1min'] + r['1h'] + r['1day']);
  }
  if (report.oee?.status === 'done') metrics.addMetric('OeeSnapshotsWritten', MetricUnit.Count, report.oee.result.snapshotsWritten);
  if (report.partitions?.dropped !== undefined) metrics.addMetric('PartitionsDropped', MetricUnit.Count, report.partitions.dropped);
  logger.info('warehouse maintenance done', { report });
  return report;
}

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
