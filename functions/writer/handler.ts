import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { writeDerivedEvents } from '#core/db/derivedEventStore';
import { database } from '#core/db/instance';
import { DerivedEventSchema, type DerivedEvent } from '#core/events';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';

type Parsed = { ok: true; event: DerivedEvent } | { ok: false; reason: string };

function parseBody(body: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { ok: false, reason: `not_json: ${(e as Error).message.slice(0, 200)}` };
  }
  const parsed = DerivedEventSchema.safeParse(json);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: `schema: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match'}` };
}

const failure = (r: SQSRecord): SQSBatchItemFailure => ({ itemIdentifier: r.messageId });

/**
 * Events queue -> rule_events / anomaly_events. An invalid message is reported as failed, not
 * dropped: the queue redelivers it until maxReceiveCount, then its redrive policy moves it to the
 * events DLQ, where it can be inspected. Valid messages are written in one call; if that write
 * fails, every one of them is reported failed and retried: nothing unwritten is acknowledged.
 */
export async function lambdaHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchItemFailure[] = [];
  const valid: DerivedEvent[] = [];
  for (const record of event.Records) {
    const parsed = parseBody(record.body);
    if (parsed.ok) {
      valid.push(parsed.event);
    } else {
      logger.warn('invalid derived event, left for the DLQ', {
        messageId: record.messageId,
        receiveCount: record.attributes.ApproximateReceiveCount,
        reason: parsed.reason,
      });
      failures.push(failure(record));
    }
  }
  metrics.addMetric(MetricName.DerivedEventsInvalid, MetricUnit.Count, failures.length);
  if (valid.length === 0) return { batchItemFailures: failures };

  try {
    const counts = await writeDerivedEvents(await database(), valid);
    metrics.addMetric(MetricName.DerivedEventsWritten, MetricUnit.Count, counts.inserted);
    metrics.addMetric(MetricName.DerivedEventsDuplicate, MetricUnit.Count, counts.duplicates);
    return { batchItemFailures: failures };
  } catch (error) {
    logger.error('derived events not written, the batch will be retried', { error: error as Error, messages: valid.length });
    metrics.addMetric(MetricName.DerivedEventsWriteFailed, MetricUnit.Count, valid.length);
    // The invalid ones are failed anyway, so now every message of the batch is.
    return { batchItemFailures: event.Records.map(failure) };
  }
}

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
