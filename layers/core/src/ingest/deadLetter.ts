import * as z from 'zod';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../record.ts';
import type { StreamRecord } from './streamRecord.ts';

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
  partitionKey: z.string(),
  approximateArrivalTimestamp: z.number(),
  eventSourceARN: z.string(),
  /** base64, as Kinesis delivered it: any byte string travels through SQS unchanged. */
  data: z.string(),
  truncated: z.boolean(),
  rejectedAt: z.string(),
});
export type DeadLetterEntry = z.infer<typeof DeadLetterEntrySchema>;

export interface DeadLetter {
  /** One entry per distinct stream record, however often Lambda delivers it (the outbox key). */
  key: string;
  body: string;
}

/** The stream record's own coordinates: a redelivery has the same key, a producer resend does not. */
export const deadLetterKey = (r: StreamRecord): string => `${r.eventSourceARN}|${r.shardId}|${r.sequenceNumber}`;

export function deadLetter(r: StreamRecord, reason: DeadLetterReason, detail: string, nowMs: number): DeadLetter {
  const truncated = r.data.length > MAX_PAYLOAD_CHARS;
  const entry: DeadLetterEntry = {
    v: 1,
    kind: 'invalid-record',
    reason,
    detail: detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}...` : detail,
    ...r,
    data: truncated ? r.data.slice(0, MAX_PAYLOAD_CHARS) : r.data,
    truncated,
    rejectedAt: new Date(nowMs).toISOString(),
  };
  return { key: deadLetterKey(r), body: JSON.stringify(entry) };
}
