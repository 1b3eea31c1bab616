import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { fromKinesisEvent, type StreamRecord } from '#core/ingest/streamRecord';
import { aggregate } from '#core/kpl/aggregate';
import { encodeRecord } from '#core/record';
import { createBrewery, type Brewery } from '#core/simulator/brewery';

export const BENCH_SEED = 42;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/tapline-bench';

export interface SyntheticBatch {
  /** As the Lambda service delivers it to the handler. */
  event: KinesisStreamEvent;
  /** As ingestBatch receives it from the handler. */
  records: StreamRecord[];
}

/**
 * Endless consecutive Kinesis batches of brewery readings from one seeded simulator: every run of
 * the bench sees the same values, facts and order; only event times follow the clock (ingest
 * rejects times outside its window). Each shard gets increasing sequence numbers, as Kinesis gives.
 */
export class BatchSource {
  private readonly brewery: Brewery;
  private clockMs: number;
  private readonly sequences = new Map<string, bigint>();

  constructor(
    startMs: number,
    /** Event time covered by one batch: the simulated plant's time step between batches. */
    private readonly spanMs = 10_000,
    seed = BENCH_SEED,
  ) {
    this.brewery = createBrewery({ seed });
    this.clockMs = startMs;
  }

  /**
   * The next `size` readings as a producer with KPL aggregation puts them: one aggregate per source
   * and 25 KiB, so the same readings travel in a few dozen Kinesis records instead of `size`.
   */
  nextAggregated(size: number, shardId: string): SyntheticBatch {
    const plain = this.next(size, shardId);
    const packed = aggregate(plain.event.Records.map((r) => ({ partitionKey: r.kinesis.partitionKey, data: Buffer.from(r.kinesis.data, 'base64') })));
    const records = packed.map((a, i): KinesisStreamRecord => {
      const template = plain.event.Records[a.members[0]!]!;
      const sequenceNumber = plain.event.Records[plain.event.Records.length - packed.length + i]!.kinesis.sequenceNumber;
      return {
        ...template,
        kinesis: { ...template.kinesis, partitionKey: a.partitionKey, sequenceNumber, data: a.data.toString('base64') },
        eventID: `${shardId}:${sequenceNumber}`,
      };
    });
    return { event: { Records: records }, records: records.map(fromKinesisEvent) };
  }

  next(size: number, shardId: string): SyntheticBatch {
    this.clockMs += this.spanMs;
    const readings = this.brewery.next(this.clockMs, size);
    // Kinesis sequence numbers are 56-digit decimals that grow per shard.
    let seq = this.sequences.get(shardId) ?? 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000n;
    const arrival = this.clockMs / 1000;
    const records = readings.map((r): KinesisStreamRecord => {
      seq += 1n;
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.source,
          sequenceNumber: String(seq),
          data: Buffer.from(encodeRecord(r)).toString('base64'),
          approximateArrivalTimestamp: arrival,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${seq}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/tapline-ingest',
        awsRegion: 'us-east-1',
        eventSourceARN: STREAM_ARN,
      };
    });
    this.sequences.set(shardId, seq);
    return { event: { Records: records }, records: records.map(fromKinesisEvent) };
  }
}
