import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { sqsClient } from '#core/aws';
import { database } from '#core/db/instance';
import { OUTBOX_STATUS_STATEMENT, outboxStatus, PRUNE_OUTBOX_STATEMENT } from '#core/db/outbox';
import { readEnv, requireSetting } from '#core/env';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';
import { drainOutbox, type PublishOutcome } from '#core/outboxPublisher';
import { DEFAULT_BACKOFF } from '#core/retry';
import { runMaintenance, type MaintenanceReport } from '#core/warehouse/maintenance';

const env = readEnv();
const sqs = sqsClient(env.AWS_REGION);
const queues = { events: requireSetting(env, 'EVENTS_QUEUE_URL'), 'ingest-dlq': requireSetting(env, 'INGEST_DLQ_URL') };

export interface MaintenanceResult {
  outbox: PublishOutcome & { pending: number; oldestAgeSeconds: number; pruned: number };
  warehouse: MaintenanceReport;
}

/**
 * Scheduled (EventBridge): first the outbox, so derived events and dead-letter entries left by
 * ingest (a crash between commit and send, a queue outage) do not wait for the next batch of a
 * quiet stream; then the warehouse step (plain PostgreSQL: partitions, rollups, OEE, retention;
 * TimescaleDB: the policies' settings and OEE, the policies do the rest). A failed warehouse step
 * is recorded in maintenance_runs and rethrown (after the other steps ran), so the invocation
 * fails, the Errors alarm sees it, and the next schedule retries.
 */
export async function lambdaHandler(_event: unknown, context: Context): Promise<MaintenanceResult> {
  const db = await database();
  const sent = await drainOutbox(db, sqs, queues, { ...DEFAULT_BACKOFF, remainingMs: () => context.getRemainingTimeInMillis() });
  const pruned = (await db.query<{ n: number }>(PRUNE_OUTBOX_STATEMENT)).rows[0]?.n ?? 0;
  const status = outboxStatus((await db.query(OUTBOX_STATUS_STATEMENT)).rows);
  metrics.addMetric(MetricName.OutboxPublishFailed, MetricUnit.Count, sent.failed);
  metrics.addMetric(MetricName.OutboxPending, MetricUnit.Count, status.pending);
  metrics.addMetric(MetricName.OutboxOldestAgeSeconds, MetricUnit.Seconds, status.oldestAgeSeconds);

  const warehouse = await runMaintenance(db);
  if (warehouse.rollups?.status === 'done') {
    const r = warehouse.rollups.result;
    metrics.addMetric(MetricName.RollupBucketsWritten, MetricUnit.Count, r['1min'] + r['1h'] + r['1day']);
  }
  if (warehouse.oee?.status === 'done') metrics.addMetric(MetricName.OeeSnapshotsWritten, MetricUnit.Count, warehouse.oee.result.snapshotsWritten);
  if (warehouse.partitions?.dropped !== undefined) metrics.addMetric(MetricName.PartitionsDropped, MetricUnit.Count, warehouse.partitions.dropped);
  const result = { outbox: { ...sent, ...status, pruned }, warehouse };
  logger.info('maintenance done', { ...result });
  return result;
}

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
