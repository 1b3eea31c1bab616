import type { KinesisStreamEvent } from 'aws-lambda';
import { encodeRecord, type TelemetryRecord } from '#core/record';

export const DEFAULT_SHARD = 'shardId-000000000000';
/** AWS's own sample event's sequence number. */
export const DEFAULT_FIRST_SEQUENCE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;

/** A Kinesis event as the event source mapping delivers it, one shard, sequence numbers ascending. */
export function kinesisEvent(
  payloads: ReadonlyArray<TelemetryRecord | Uint8Array | string>,
  opts: { shardId?: string; firstSequence?: bigint; partitionKey?: string } = {},
): KinesisStreamEvent {
  const shardId = opts.shardId ?? DEFAULT_SHARD;
  const first = opts.firstSequence ?? DEFAULT_FIRST_SEQUENCE;
  const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/tapline-local-telemetry';
  return {
    Records: payloads.map((p, i) => {
      const data = typeof p === 'string' ? p : Buffer.from(p instanceof Uint8Array ? p : encodeRecord(p)).toString('base64');
      const sequenceNumber = String(first + BigInt(i) * 1_000n);
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: opts.partitionKey ?? (p instanceof Uint8Array || typeof p === 'string' ? 'unknown' : p.source),
          sequenceNumber,
          data,
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/tapline-ingest',
        awsRegion: 'us-east-1',
        eventSourceARN: arn,
      };
    }),
  };
}
