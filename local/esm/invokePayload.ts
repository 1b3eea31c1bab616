/**
 * Lambda's synchronous invoke payload limit: 6 MB of serialized request, metadata included
 * (aws-semantics.md). Both mappings stop adding records to a batch before the event would pass it.
 */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** `{"Records":[]}`: what an event weighs around its records. */
const ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ Records: [] }));

/** What one record adds to the serialized event (without the comma that separates it from the previous one). */
export const serializedBytes = (record: unknown): number => Buffer.byteLength(JSON.stringify(record));

/**
 * Counts the bytes of `{"Records":[r1,r2,...]}` as records are added, exactly as JSON.stringify
 * of the event would. A lone record always fits: an event of one oversized record is Lambda's
 * problem to refuse, not the batcher's to drop.
 */
export class PayloadBudget {
  private bytes = ENVELOPE_BYTES;
  private count = 0;

  /** True when a record of `recordBytes` can join without the event passing the limit. */
  fits(recordBytes: number): boolean {
    return this.count === 0 || this.bytes + 1 + recordBytes <= MAX_INVOKE_PAYLOAD_BYTES;
  }

  add(recordBytes: number): void {
    this.bytes += recordBytes + (this.count > 0 ? 1 : 0);
    this.count++;
  }

  get eventBytes(): number {
    return this.bytes;
  }
}
