import type { Message } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { derivedEventId, type AnomalyEvent, type RuleEvent } from '#core/events';

const REGION = 'us-east-1';
export const EVENTS_QUEUE_ARN = `arn:aws:sqs:${REGION}:000000000000:tapline-local-events`;

let counter = 0;

/** One record as the Lambda SQS event source delivers it. */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  counter += 1;
  const now = String(Date.now());
  return {
    messageId: `0b4f0c3e-8f3a-4c55-9e3a-${String(counter).padStart(12, '0')}`,
    receiptHandle: `AQEB-receipt-${counter}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: 'not-checked-by-the-handler',
    eventSource: 'aws:sqs',
    eventSourceARN: EVENTS_QUEUE_ARN,
    awsRegion: REGION,
    ...overrides,
  };
}

export const sqsEvent = (records: SQSRecord[]): SQSEvent => ({ Records: records });

/** Turns ReceiveMessage output into the event Lambda would have built from it. */
export function sqsEventFromMessages(messages: readonly Message[], queueArn: string): SQSEvent {
  return sqsEvent(
    messages.map((m) => {
      const attrs = m.Attributes ?? {};
      return sqsRecord(m.Body ?? '', {
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        md5OfBody: m.MD5OfBody ?? '',
        eventSourceARN: queueArn,
        attributes: {
          ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
          SentTimestamp: attrs.SentTimestamp ?? '0',
          SenderId: attrs.SenderId ?? 'local',
          ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? '0',
        },
      });
    }),
  );
}

let eventSeq = 0;
const nextTs = (): string => new Date(Date.UTC(2026, 10, 22, 12, 0, 0) + ++eventSeq * 1_000).toISOString();

/** A valid rule firing as ingest publishes it; each call makes a new event id. */
export function ruleEvent(overrides: Partial<RuleEvent> = {}): RuleEvent {
  const ts = overrides.ts ?? nextTs();
  const source = overrides.source ?? 'FBE_03';
  const ruleId = overrides.ruleId ?? 'pump_dry_run';
  return { v: 1, kind: 'rule', id: derivedEventId('rule', source, ruleId, ts), ts, source, ruleId, rulesVersion: '2026.11.1', ...overrides };
}

/** A valid anomaly as ingest publishes it; each call makes a new event id. */
export function anomalyEvent(overrides: Partial<AnomalyEvent> = {}): AnomalyEvent {
  const ts = overrides.ts ?? nextTs();
  const source = overrides.source ?? 'FBE_07';
  const fact = overrides.fact ?? 'temperature_c';
  return { v: 1, kind: 'anomaly', id: derivedEventId('anomaly', source, fact, ts), ts, source, fact, value: 31.5, ema: 19.9, sigma: 0.42, ...overrides };
}
