import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from 'aws-lambda';

/**
 * The event record exactly as Lambda builds it from a received message (with-sqs, "Example
 * standard queue message event"): the message attributes in Lambda's camel-case shape, and every
 * system attribute the queue returned, passed through as it is (AWSTraceHeader, SentTimestamp,
 * SenderId, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, and where set
 * DeadLetterQueueSourceArn, MessageGroupId, MessageDeduplicationId, SequenceNumber).
 */
export function sqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const messageAttributes: Record<string, SQSMessageAttribute> = {};
  for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) messageAttributes[name] = messageAttribute(value);
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: { ...(m.Attributes ?? {}) } as unknown as SQSRecordAttributes,
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function messageAttribute(v: MessageAttributeValue): SQSMessageAttribute {
  return {
    ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
    ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
    stringListValues: v.StringListValues ?? [],
    binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    dataType: v.DataType ?? 'String',
  };
}
