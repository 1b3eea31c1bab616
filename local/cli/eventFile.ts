import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { firstIssue } from '#core/json';
import { shown } from './dataDir.ts';
import { UsageError } from './run.ts';

/**
 * The shape of the event each function is invoked with in AWS, checked before anything starts so
 * a wrong file is a usage error naming the file and the field, not a handler's stack trace.
 * Only what tells the event kinds apart is checked: the handler validates the rest itself.
 */
const KinesisEventSchema = z.object({
  Records: z
    .array(
      z.object({
        eventID: z.string(),
        eventSourceARN: z.string(),
        kinesis: z.object({ sequenceNumber: z.string().regex(/^\d+$/), partitionKey: z.string(), data: z.string() }),
      }),
    )
    .min(1),
});

const SqsEventSchema = z.object({
  Records: z.array(z.object({ messageId: z.string(), body: z.string(), eventSource: z.literal('aws:sqs') })).min(1),
});

/** An EventBridge scheduled event, or the overrides `npm run local` passes the simulator: any object. */
const ScheduledEventSchema = z.looseObject({});

export const EVENT_KINDS = {
  ingest: { schema: KinesisEventSchema, what: 'a Kinesis event (Records[].kinesis)' },
  writer: { schema: SqsEventSchema, what: 'an SQS event (Records[].body, eventSource aws:sqs)' },
  simulator: { schema: ScheduledEventSchema, what: 'an object (an EventBridge scheduled event, or { rate, durationSeconds, seed })' },
  maintenance: { schema: ScheduledEventSchema, what: 'an object (an EventBridge scheduled event)' },
} as const;
export type FunctionName = keyof typeof EVENT_KINDS;

export function readEventFile(file: string, fn: FunctionName): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--event ${shown(file)}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--event ${shown(file)} is not JSON: ${(e as Error).message}`);
  }
  const kind = EVENT_KINDS[fn];
  const parsed = kind.schema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`--event ${shown(file)} is not ${kind.what} for ${fn}: ${firstIssue(parsed.error)}`);
  }
  return json;
}
