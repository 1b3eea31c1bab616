import type { InvalidRecordError } from '../record.ts';
import type { OutgoingMessage } from '../queue.ts';
import type { StreamRecord } from './streamRecord.ts';

/** SQS accepts 256 KiB per message; keep the payload below that with room for the envelope. */
const MAX_PAYLOAD_CHARS = 200_000;

/**
 * An invalid record, as the ingest dead-letter queue stores it: the payload itself (unlike the
 * ESM's OnFailure destination, which carries only metadata) plus where it came from, so an operator
 * can read the reason, fix the producer and replay. An oversized payload is cut, but its stream
 * coordinates still let `npm run redrive` read it back from the stream while it is retained.
 */
export interface InvalidRecordEntry extends StreamRecord {
  v: 1;
  kind: 'invalid-record';
  reason: InvalidRecordError['reason'];
  detail: string;
  truncated: boolean;
  rejectedAt: string;
}

export function deadLetterMessage(r: StreamRecord, error: InvalidRecordError, nowMs: number): OutgoingMessage {
  const truncated = r.data.length > MAX_PAYLOAD_CHARS;
  const entry: InvalidRecordEntry = {
    v: 1,
    kind: 'invalid-record',
    reason: error.reason,
    detail: error.detail,
    ...r,
    data: truncated ? r.data.slice(0, MAX_PAYLOAD_CHARS) : r.data,
    truncated,
    rejectedAt: new Date(nowMs).toISOString(),
  };
  return { id: r.sequenceNumber, body: JSON.stringify(entry) };
}
