import * as z from 'zod';
import { parseJsonAs } from '../json.ts';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../record.ts';
import type { StreamRecord, SubRecord } from './streamRecord.ts';

/** SQS accepts 256 KiB per message; keep the payload below that with room for the envelope. */
const MAX_PAYLOAD_CHARS = 200_000;
/** The reason's detail is a hint for a person; the payload itself is the evidence. */
const MAX_DETAIL_CHARS = 500;

/**
 * A record ingest did not write, as the ingest dead-letter queue stores it: the payload itself
 * (unlike the ESM's OnFailure destination, which carries only metadata) plus where it came from,
 * so an operator can read the reason, fix the producer and replay. An oversized payload is cut,
 * but its stream coordinates still let `npm run redrive` read it back while it is retained.
 * One schema for ingest (which writes it) and redrive (which reads it).
 */
export const DeadLetterEntrySchema = z.object({
  v: z.literal(1),
  kind: z.literal('invalid-record'),
  reason: z.enum(DEAD_LETTER_REASONS),
  detail: z.string(),
  shardId: z.string(),
  sequenceNumber: z.string(),
  /** The record's own key: a user record's, when it came out of a KPL aggregate. */
  partitionKey: z.string(),
  /** The user record's position in its KPL aggregate (the aggregate's sequence number above). */
  subSequenceNumber: z.number().int().nonnegative().optional(),
  approximateArrivalTimestamp: z.number(),
  eventSourceARN: z.string(),
  /** base64 of the record's bytes (a user record's own, out of its aggregate): any bytes travel through SQS. */
  data: z.string(),
  truncated: z.boolean(),
  rejectedAt: z.string(),
});
export type DeadLetterEntry = z.infer<typeof DeadLetterEntrySchema>;

/** An ingest DLQ message body as redrive and the fault accounting read it (undefined: not an entry). */
export const parseDeadLetterEntry = (body: string): DeadLetterEntry | undefined => parseJsonAs(DeadLetterEntrySchema, body);

export interface DeadLetter {
  /** One entry per distinct stream record, however often Lambda delivers it (the outbox key). */
  key: string;
  body: string;
}

/** The record's own coordinates: a redelivery has the same key, a producer resend does not. */
export const deadLetterKey = (r: StreamRecord, sub?: SubRecord): string => `${r.eventSourceARN}|${r.shardId}|${r.sequenceNumber}${sub ? `|${sub.subSequenceNumber}` : ''}`;

export function deadLetter(r: StreamRecord, reason: DeadLetterReason, detail: string, nowMs: number, sub?: SubRecord): DeadLetter {
  const data = sub ? Buffer.from(sub.data).toString('base64') : r.data;
  const truncated = data.length > MAX_PAYLOAD_CHARS;
  const entry: DeadLetterEntry = {
    v: 1,
    kind: 'invalid-record',
    reason,
    detail: detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}...` : detail,
    ...r,
    ...(sub ? { partitionKey: sub.partitionKey, subSequenceNumber: sub.subSequenceNumber } : {}),
    data: truncated ? data.slice(0, MAX_PAYLOAD_CHARS) : data,
    truncated,
    rejectedAt: new Date(nowMs).toISOString(),
  };
  return { key: deadLetterKey(r, sub), body: JSON.stringify(entry) };
}
