import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { StoredStreamRecord } from '#core/redrive/streamRange';

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

/**
 * Every record of every shard, from TRIM_HORIZON to the tip, in each shard's sequence order (shards
 * in ListShards order, read side by side). The one full-stream reader of the tests and the bench.
 */
export async function readWholeStream(kinesis: Pick<KinesisClient, 'send'>, streamName: string): Promise<StoredStreamRecord[]> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const perShard = await Promise.all(
    Shards.map(async ({ ShardId: shardId = '' }) => {
      const records: StoredStreamRecord[] = [];
      let { ShardIterator: iterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
      while (iterator) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        for (const r of page.Records ?? []) {
          records.push({ shardId, sequenceNumber: r.SequenceNumber ?? '', partitionKey: r.PartitionKey ?? '', data: r.Data ?? new Uint8Array() });
        }
        // An open shard always hands out a next iterator: an empty page means the tip.
        iterator = page.Records?.length ? page.NextShardIterator : undefined;
      }
      return records;
    }),
  );
  return perShard.flat();
}
