import { randomUUID } from 'node:crypto';
import type { _Record } from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import { serializedBytes } from './invokePayload.ts';

/** Where the records come from and who reads them: the fields every event record repeats. */
export interface KinesisSource {
  streamArn: string;
  region: string;
  functionArn: string;
  /** The function's execution role (invokeIdentityArn). */
  roleArn: string;
}

/** A record read from a shard, already in the shape the function receives, with its serialized size. */
export interface ShardRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly arrivalMs: number;
  readonly event: KinesisStreamRecord;
  readonly bytes: number;
  /** Set once the record is acknowledged or handed to the OnFailure destination. */
  done: boolean;
  /** What it holds for the progress counters (ShardContext.units); 1 until read. */
  units: number;
}

/** The event record exactly as Lambda builds it (with-kinesis, "Example Kinesis record event"). */
export function shardRecord(shardId: string, r: _Record, source: KinesisSource, readAtMs: number): ShardRecord {
  const sequenceNumber = r.SequenceNumber ?? '';
  const arrivalMs = r.ApproximateArrivalTimestamp?.getTime() ?? readAtMs;
  const event: KinesisStreamRecord = {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.PartitionKey ?? '',
      sequenceNumber,
      data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.roleArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
  return { sequenceNumber, partitionKey: r.PartitionKey ?? '', arrivalMs, event, bytes: serializedBytes(event), done: false, units: 1 };
}

export type DiscardCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** How the records' last invocation ended, for the OnFailure message's responseContext. */
export type LastInvocation = 'function-error' | 'returned' | undefined;

/**
 * The OnFailure destination's message: metadata only, never the payload (with-kinesis, "Example
 * invocation record"). The documented example shows a function error; for the other ways a batch
 * is given up the docs are silent, so the emulator reports what happened: a function that returned
 * (a partial or unreadable response) gets no `functionError`, and records that aged out before any
 * invocation get no `responseContext` at all, since no response exists.
 */
export function onFailureMessage(
  shardId: string,
  records: readonly ShardRecord[],
  o: { source: KinesisSource; condition: DiscardCondition; invocations: number; last: LastInvocation; nowMs: number },
): string {
  const first = records[0]!;
  const last = records[records.length - 1]!;
  const responseContext =
    o.last === undefined
      ? {}
      : {
          responseContext: {
            statusCode: 200,
            executedVersion: '$LATEST',
            ...(o.last === 'function-error' ? { functionError: 'Unhandled' } : {}),
          },
        };
  return JSON.stringify({
    requestContext: { requestId: randomUUID(), functionArn: o.source.functionArn, condition: o.condition, approximateInvokeCount: o.invocations },
    ...responseContext,
    version: '1.0',
    timestamp: new Date(o.nowMs).toISOString(),
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
      approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
      batchSize: records.length,
      streamArn: o.source.streamArn,
    },
  });
}
