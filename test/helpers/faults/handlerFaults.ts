import { createHash } from 'node:crypto';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Handler } from '../../../local/esm/invoker.ts';

type IngestHandler = Handler<KinesisStreamEvent, KinesisStreamBatchResponse>;
type WriterHandler = Handler<SQSEvent, SQSBatchResponse>;

/** An error the harness throws on purpose; the event source mapping sees a function error. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

/** What a wrapper did, so a scenario can assert that its fault really happened. */
export interface FaultCounters {
  invocations: number;
  injected: number;
}

const newCounters = (): FaultCounters => ({ invocations: 0, injected: 0 });

/**
 * At-least-once delivery at its worst: every batch is delivered twice at the same moment (a retry
 * racing a slow first attempt), and the previous batch is delivered once more afterwards (a stale
 * redelivery arriving after later records were committed). The mapping sees the first answer.
 */
export function deliverTwice(): { counters: FaultCounters; wrap: (h: IngestHandler) => IngestHandler } {
  const counters = newCounters();
  let previous: KinesisStreamEvent | undefined;
  return {
    counters,
    wrap: (h) => async (event, context) => {
      counters.invocations++;
      const [first] = await Promise.all([h(event, context), h(event, context)]);
      if (previous) await h(previous, context);
      counters.injected += 1 + (previous ? 1 : 0);
      previous = event;
      return first;
    },
  };
}

/**
 * The function dies after its transaction committed but before Lambda checkpointed the batch (a
 * timeout or an out-of-memory kill at the very end): the real handler runs, then every `every`-th
 * invocation throws. The mapping retries and bisects; the redelivered records are already in.
 */
export function crashAfterCommit(every: number): { counters: FaultCounters; wrap: (h: IngestHandler) => IngestHandler } {
  const counters = newCounters();
  return {
    counters,
    wrap: (h) => async (event, context) => {
      // Taken before the handler runs: the shards' invocations overlap, and the counter moves meanwhile.
      const invocation = ++counters.invocations;
      const response = await h(event, context);
      if (invocation % every === 1 % every) {
        counters.injected++;
        throw new InjectedFault(`crash after commit (invocation ${invocation})`);
      }
      return response;
    },
  };
}

/**
 * A record that makes the code throw (a bug, not an invalid record): while `active`, any batch
 * holding a record the predicate picks fails before doing anything. Bisect must isolate it.
 */
export function throwOnRecord(isPoison: (r: KinesisStreamRecord) => boolean): {
  counters: FaultCounters & { poisonDeliveries: number; batchSizesWithPoison: number[] };
  heal: () => void;
  wrap: (h: IngestHandler) => IngestHandler;
} {
  const counters = { ...newCounters(), poisonDeliveries: 0, batchSizesWithPoison: [] as number[] };
  let active = true;
  return {
    counters,
    heal: () => {
      active = false;
    },
    wrap: (h) => async (event, context) => {
      counters.invocations++;
      if (active && event.Records.some(isPoison)) {
        counters.injected++;
        counters.poisonDeliveries++;
        counters.batchSizesWithPoison.push(event.Records.length);
        throw new InjectedFault('poison record in the batch');
      }
      return h(event, context);
    },
  };
}

/**
 * Hooks on the ingest function's invocations, so a fault starts and ends on events (the nth
 * invocation, the nth failure) rather than after a sleep: stable however busy the machine is.
 */
export function onInvocations(hooks: {
  /** Before invocation n (1-based) runs. */
  before?: (n: number) => void | Promise<void>;
  /** After invocation n ended; `failures` counts the invocations that threw so far. */
  after?: (n: number, failures: number) => void | Promise<void>;
}): { counters: FaultCounters & { failures: number }; wrap: (h: IngestHandler) => IngestHandler } {
  const counters = { ...newCounters(), failures: 0 };
  return {
    counters,
    wrap: (h) => async (event, context) => {
      const n = ++counters.invocations;
      await hooks.before?.(n);
      try {
        return await h(event, context);
      } catch (e) {
        counters.failures++;
        throw e;
      } finally {
        await hooks.after?.(n, counters.failures);
      }
    },
  };
}

/** Does the record's payload contain this text (e.g. a marker id)? */
export const payloadContains =
  (text: string) =>
  (r: KinesisStreamRecord): boolean =>
    Buffer.from(r.kinesis.data, 'base64').includes(text);

const bucketOf = (messageId: string, buckets: number) => createHash('sha256').update(messageId).digest().readUInt32BE(0) % buckets;

/**
 * Writer partial failures on a message's first delivery: one message in four is reported failed
 * without being written (the write failed), another one in four is written and still reported
 * failed (the acknowledgement was lost). Both come back after the visibility timeout.
 */
export function writerPartialFailures(): {
  counters: FaultCounters & { deliveries: Map<string, number> };
  wrap: (h: WriterHandler) => WriterHandler;
} {
  const counters = { ...newCounters(), deliveries: new Map<string, number>() };
  return {
    counters,
    wrap: (h) => async (event, context) => {
      counters.invocations++;
      for (const r of event.Records) counters.deliveries.set(r.body, (counters.deliveries.get(r.body) ?? 0) + 1);
      const first = event.Records.filter((r) => r.attributes.ApproximateReceiveCount === '1');
      const notWritten = new Set(first.filter((r) => bucketOf(r.messageId, 4) === 0).map((r) => r.messageId));
      const ackLost = new Set(first.filter((r) => bucketOf(r.messageId, 4) === 1).map((r) => r.messageId));
      const passed = event.Records.filter((r) => !notWritten.has(r.messageId));
      const response = passed.length > 0 ? await h({ Records: passed }, context) : { batchItemFailures: [] };
      counters.injected += notWritten.size + ackLost.size;
      const failed = new Set([...response.batchItemFailures.map((f) => f.itemIdentifier), ...notWritten, ...ackLost]);
      return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
    },
  };
}
