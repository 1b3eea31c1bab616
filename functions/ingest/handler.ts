import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { sqsClient } from '#core/aws';
import { database } from '#core/db/instance';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { readEnv, requireSetting } from '#core/env';
import { ingestBatch } from '#core/ingest/ingestBatch';
import { fromKinesisEvent } from '#core/ingest/streamRecord';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';
import { breweryRuleSet } from '#core/rules/brewery';

const env = readEnv();
const sqs = sqsClient(env.AWS_REGION);
const queues = { events: requireSetting(env, 'EVENTS_QUEUE_URL'), 'ingest-dlq': requireSetting(env, 'INGEST_DLQ_URL') };
const window = { maxPastSeconds: env.TS_MAX_PAST_SECONDS, maxFutureSeconds: env.TS_MAX_FUTURE_SECONDS };

/**
 * Kinesis batch -> in one transaction: keep each distinct reading once (resends and redeliveries
 * are counted, not written), merge, write rows and derived state, put derived events and
 * dead-letter entries in the outbox; then send the outbox. Only the database can fail a batch
 * (thrown: the event source mapping retries); no record can.
 */
export const lambdaHandler = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const report = await ingestBatch(event.Records.map(fromKinesisEvent), {
    store: pgIngestStore(await database()),
    sqs,
    queues,
    ruleSet: breweryRuleSet,
    window,
    mode: env.INGEST_MODE,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  metrics.addMetric(MetricName.RecordsIn, MetricUnit.Count, report.records);
  metrics.addMetric(MetricName.KinesisRecordsIn, MetricUnit.Count, report.kinesisRecords);
  metrics.addMetric(MetricName.ReadingsWritten, MetricUnit.Count, report.written);
  metrics.addMetric(MetricName.LateReadings, MetricUnit.Count, report.late);
  metrics.addMetric(MetricName.DuplicateReadings, MetricUnit.Count, report.duplicates);
  metrics.addMetric(MetricName.RedeliveredRecords, MetricUnit.Count, report.redelivered);
  metrics.addMetric(MetricName.DeadLetteredRecords, MetricUnit.Count, report.deadLettered);
  metrics.addMetric(MetricName.ConflictingReadings, MetricUnit.Count, report.conflicts);
  metrics.addMetric(MetricName.RowsInserted, MetricUnit.Count, report.rows);
  metrics.addMetric(MetricName.DerivedEvents, MetricUnit.Count, report.derivedEvents);
  metrics.addMetric(MetricName.OutboxPublishFailed, MetricUnit.Count, report.publishFailed);
  metrics.addMetric(MetricName.OutboxPending, MetricUnit.Count, report.outboxPending);
  metrics.addMetric(MetricName.OutboxOldestAgeSeconds, MetricUnit.Seconds, report.outboxOldestAgeSeconds);
  metrics.addMetric(MetricName.BatchDurationMs, MetricUnit.Milliseconds, report.timings.decodeMs + report.timings.writeMs + report.timings.publishMs);
  // Every count is in the metrics line already, and each invocation's log bytes are billed: the full
  // report is for debugging (POWERTOOLS_LOG_LEVEL=DEBUG), unless the batch set something aside.
  if (report.deadLettered > 0 || report.publishFailed > 0) logger.warn('batch ingested with records dead-lettered or messages left in the outbox', { ...report });
  else logger.debug('batch ingested', { ...report });
  return { batchItemFailures: [] };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
