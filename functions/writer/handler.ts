import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { writeDerivedEvents } from '#core/db/derivedEventStore';
import { database } from '#core/db/instance';
import type { DerivedEvent } from '#core/events';
import { readEventsMessage } from '#core/eventsMessage';
import { MetricName } from '#core/metricNames';
import { logger, metrics } from '#core/observability';

/** Every message of the batch failed: thrown, as Powertools' batch processor does, so Lambda's
 * Errors metric and the mapping's backoff see it (a response naming every id would hide both). */
export class FullBatchFailureError extends Error {
  override readonly name = 'FullBatchFailureError';
}

/**
 * Events queue -> rule_events / anomaly_events. A message holds one derived event or an envelope
 * of several (ADR 0014). A message with an event that cannot be stored (invalid, or refused by the
 * database) is reported failed, alone, after its other events are stored: the queue redelivers it
 * (the stored ones come back as duplicates) until maxReceiveCount, then its redrive policy moves it
 * to the events DLQ, where it can be inspected. A database that cannot be reached fails the whole
 * batch (thrown): nothing unwritten is acknowledged.
 */
export async function lambdaHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failed = new Map<SQSRecord, string>();
  const valid: Array<{ record: SQSRecord; event: DerivedEvent }> = [];
  let invalid = 0;
  for (const record of event.Records) {
    const read = readEventsMessage(record.body);
    valid.push(...read.events.map((e) => ({ record, event: e })));
    invalid += read.invalid.length;
    if (read.invalid[0] !== undefined) failed.set(record, read.invalid[0]);
  }
  metrics.addMetric(MetricName.DerivedEventsInvalid, MetricUnit.Count, invalid);

  if (valid.length > 0) {
    const counts = await writeDerivedEvents(
      await database(),
      valid.map((v) => v.event),
    );
    const refused = new Map(counts.refused.map((r) => [r.event, r.reason]));
    for (const v of valid) {
      const reason = refused.get(v.event);
      if (reason !== undefined && !failed.has(v.record)) failed.set(v.record, `refused by the database: ${reason}`);
    }
    metrics.addMetric(MetricName.DerivedEventsWritten, MetricUnit.Count, counts.inserted);
    metrics.addMetric(MetricName.DerivedEventsDuplicate, MetricUnit.Count, counts.duplicates);
    metrics.addMetric(MetricName.DerivedEventsWriteFailed, MetricUnit.Count, counts.refused.length);
  }
  for (const [record, reason] of failed) {
    logger.warn('derived event not stored, left for the events DLQ', {
      messageId: record.messageId,
      receiveCount: record.attributes?.ApproximateReceiveCount,
      reason,
    });
  }
  if (failed.size > 0 && failed.size === event.Records.length) {
    throw new FullBatchFailureError(`all ${failed.size} message(s) failed: ${failed.values().next().value ?? ''}`);
  }
  return { batchItemFailures: [...failed.keys()].map((r): SQSBatchItemFailure => ({ itemIdentifier: r.messageId })) };
}

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
