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
  metrics.addMetric('RecordsIn', MetricUnit.Count, report.records);
  metrics.addMetric('ReadingsWritten', MetricUnit.Count, report.written);
  metrics.addMetric('LateReadings', MetricUnit.Count, report.late);
  metrics.addMetric('DuplicateReadings', MetricUnit.Count, report.duplicates);
  metrics.addMetric('RedeliveredRecords', MetricUnit.Count, report.redelivered);
  metrics.addMetric('DeadLetteredRecords', MetricUnit.Count, report.deadLettered);
  metrics.addMetric('ConflictingReadings', MetricUnit.Count, report.conflicts);
  metrics.addMetric('RowsInserted', MetricUnit.Count, report.rows);
  metrics.addMetric('DerivedEvents', MetricUnit.Count, report.derivedEvents);
  metrics.addMetric('OutboxPublishFailed', MetricUnit.Count, report.publishFailed);
  metrics.addMetric('OutboxPending', MetricUnit.Count, report.outboxPending);
  metrics.addMetric('OutboxOldestAgeSeconds', MetricUnit.Seconds, report.outboxOldestAgeSeconds);
  metrics.addMetric('BatchDurationMs', MetricUnit.Milliseconds, report.timings.decodeMs + report.timings.writeMs + report.timings.publishMs);
  logger.info('batch ingested', { ...report });
  return { batchItemFailures: [] };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
