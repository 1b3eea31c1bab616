import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** A client for an emulator endpoint (the SDK's default HTTP/2 handler fails against kinesalite). */
export const emulatorClient = (endpoint: string): KinesisClient =>
  new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  });

export async function createStream(kinesis: KinesisClient, name: string, shards: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

export interface StoredRecord {
  shardId: string;
  partitionKey: string;
  sequenceNumber: string;
  data: Uint8Array;
}

/** Everything in the stream, shard by shard from TRIM_HORIZON, in each shard's sequence order. */
export async function readStream(kinesis: KinesisClient, name: string): Promise<StoredRecord[]> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: name }));
  const records: StoredRecord[] = [];
  for (const { ShardId: shardId = '' } of Shards) {
    let { ShardIterator: iterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of page.Records ?? []) {
        records.push({ shardId, partitionKey: r.PartitionKey ?? '', sequenceNumber: r.SequenceNumber ?? '', data: r.Data ?? new Uint8Array() });
      }
      // an open shard always hands out a next iterator: an empty page means we are at the tip
      iterator = page.Records?.length ? page.NextShardIterator : undefined;
    }
  }
  return records;
}
