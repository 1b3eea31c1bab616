import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { compareSequence } from '../reading.ts';

/** One record as read back from the stream: what PutRecords needs to put it again. */
export interface StoredStreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
}

export interface RangeRead {
  records: StoredStreamRecord[];
  /** True when the first record is the start and the last is the end of the range. */
  complete: boolean;
}

export interface RangeReadOptions {
  /** Empty pages tolerated while the shard is behind its tip (Kinesis may return some). */
  maxEmptyPages?: number;
  /** Pause between empty pages: GetRecords allows 5 calls per second per shard. */
  emptyPagePauseMs?: number;
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` -> `<name>`. */
export function streamNameFromArn(arn: string): string {
  const at = arn.lastIndexOf(':stream/');
  return at >= 0 ? arn.slice(at + ':stream/'.length) : arn;
}

/**
 * Reads the records of one shard from `start` to `end` inclusive (an OnFailure destination's
 * KinesisBatchInfo range: an ESM batch is a run of consecutive records of one shard). Stops at
 * the end of the range, at the shard's tip, or when the shard is closed; `complete` says whether
 * the whole range was still in the stream (records older than the retention are gone).
 */
export async function readSequenceRange(
  kinesis: Pick<KinesisClient, 'send'>,
  streamName: string,
  shardId: string,
  start: string,
  end: string,
  o: RangeReadOptions = {},
): Promise<RangeRead> {
  const maxEmpty = o.maxEmptyPages ?? 20;
  const pauseMs = o.emptyPagePauseMs ?? 200;
  const records: StoredStreamRecord[] = [];
  const done = (): RangeRead => ({
    records,
    complete: records[0]?.sequenceNumber === start && records[records.length - 1]?.sequenceNumber === end,
  });
  const it = await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: start }));
  let iterator = it.ShardIterator;
  let empty = 0;
  while (iterator) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    for (const r of page.Records ?? []) {
      const sequenceNumber = r.SequenceNumber ?? '';
      if (compareSequence(sequenceNumber, end) > 0) return done();
      records.push({ shardId, sequenceNumber, partitionKey: r.PartitionKey ?? '', data: r.Data ?? new Uint8Array() });
      if (sequenceNumber === end) return done();
    }
    if ((page.Records ?? []).length === 0) {
      if (page.MillisBehindLatest === 0 || ++empty > maxEmpty) return done();
      await new Promise((ok) => setTimeout(ok, pauseMs));
    } else {
      empty = 0;
    }
    iterator = page.NextShardIterator;
  }
  return done();
}
