import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { sqsClient } from '#core/aws';
import { database } from '#core/db/instance';
import { readEnv, requireSetting } from '#core/env';
import { ingestBatch } from '#core/ingest/ingestBatch';
import { fromKinesisEvent } from '#core/ingest/streamRecord';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';
import { breweryRuleSet } from '#core/rules/brewery';

const env = readEnv();
const sqs = sqsClient(env.AWS_REGION);
const deadLetterQueueUrl = requireSetting(env, 'INGEST_DLQ_URL');
const eventsQueueUrl = requireSetting(env, 'EVENTS_QUEUE_URL');
const window = { maxPastSeconds: env.TS_MAX_PAST_SECONDS, maxFutureSeconds: env.TS_MAX_FUTURE_SECONDS };

/**
 * Kinesis batch -> dead-letter the invalid, merge the valid, write rows + derived state in one
 * transaction, publish derived events. A thrown error (database or queue down) makes the event
 * source mapping retry and bisect; the checkpoint makes every redelivery exact.
 */
export const lambdaHandler = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const report = await ingestBatch(event.Records.map(fromKinesisEvent), {
    db: await database(),
    sqs,
    deadLetterQueueUrl,
    eventsQueueUrl,
    ruleSet: breweryRuleSet,
    window,
    mode: env.INGEST_MODE,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  metrics.addMetric(MetricName.RecordsIn, MetricUnit.Count, report.records);
  metrics.addMetric(MetricName.ValidRecords, MetricUnit.Count, report.valid);
  metrics.addMetric(MetricName.InvalidRecords, MetricUnit.Count, report.invalid);
  metrics.addMetric(MetricName.RedeliveredSkipped, MetricUnit.Count, report.redelivered);
  metrics.addMetric(MetricName.MergedRows, MetricUnit.Count, report.mergedRows);
  metrics.addMetric(MetricName.RowsInserted, MetricUnit.Count, report.inserted);
  metrics.addMetric(MetricName.DuplicatesSkipped, MetricUnit.Count, report.duplicates);
  metrics.addMetric(MetricName.DerivedEvents, MetricUnit.Count, report.derivedEvents);
  metrics.addMetric(MetricName.BatchDurationMs, MetricUnit.Milliseconds, report.timings.decodeMs + report.timings.writeMs + report.timings.publishMs);
  logger.info('batch ingested', { ...report, batchItemFailures: report.batchItemFailures.length });
  return { batchItemFailures: report.batchItemFailures };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
