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

/** Every message of the batch failed: thrown, as Powertools' batch processor does, so Lambda's
 * Errors metric and the mapping's backoff see it (a response naming every id would hide both). */
export class FullBatchFailureError extends Error {
  override readonly name = 'FullBatchFailureError';
}

/**
 * Events queue -> rule_events / anomaly_events. A message that cannot be stored (invalid, or
 * refused by the database) is reported failed, alone: the queue redelivers it until
 * maxReceiveCount, then its redrive policy moves it to the events DLQ, where it can be inspected.
 * A database that cannot be reached fails the whole batch (thrown): nothing unwritten is acknowledged.
 */
export async function lambdaHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failed: Array<{ record: SQSRecord; reason: string }> = [];
  const valid: Array<{ record: SQSRecord; event: DerivedEvent }> = [];
  for (const record of event.Records) {
    const parsed = parseBody(record.body);
    if (parsed.ok) valid.push({ record, event: parsed.event });
    else failed.push({ record, reason: parsed.reason });
  }
  metrics.addMetric(MetricName.DerivedEventsInvalid, MetricUnit.Count, failed.length);

  if (valid.length > 0) {
    const counts = await writeDerivedEvents(
      await database(),
      valid.map((v) => v.event),
    );
    const refused = new Map(counts.refused.map((r) => [r.event, r.reason]));
    for (const v of valid) {
      const reason = refused.get(v.event);
      if (reason !== undefined) failed.push({ record: v.record, reason: `refused by the database: ${reason}` });
    }
    metrics.addMetric(MetricName.DerivedEventsWritten, MetricUnit.Count, counts.inserted);
    metrics.addMetric(MetricName.DerivedEventsDuplicate, MetricUnit.Count, counts.duplicates);
    metrics.addMetric(MetricName.DerivedEventsWriteFailed, MetricUnit.Count, counts.refused.length);
  }
  for (const f of failed) {
    logger.warn('derived event not stored, left for the events DLQ', {
      messageId: f.record.messageId,
      receiveCount: f.record.attributes?.ApproximateReceiveCount,
      reason: f.reason,
    });
  }
  if (failed.length > 0 && failed.length === event.Records.length) {
    throw new FullBatchFailureError(`all ${failed.length} message(s) failed: ${failed[0]?.reason ?? ''}`);
  }
  return { batchItemFailures: failed.map((f): SQSBatchItemFailure => ({ itemIdentifier: f.record.messageId })) };
}

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
