/**
 * Counts what a PostgreSQL client sends (frontend protocol v3), to prove a code path RDS Proxy
 * friendly: simple Query ('Q') only, no Parse ('P', the extended protocol node-postgres uses for
 * any parameterised query), every statement under the 16 KB pinning threshold, and none of the
 * session-state statements that pin (SET, PREPARE, LISTEN, temp tables, cursors, advisory locks).
 */
export interface WireCounts {
  /** Messages by type letter ('Q', 'P', 'B', 'E', 'S', 'd' CopyData, ...). */
  byType: Record<string, number>;
  queries: number;
  /** Bytes of the longest Query text (UTF-8, without the trailing NUL). */
  maxQueryBytes: number;
  /** Query texts that would pin an RDS Proxy connection, first 80 characters each. */
  pinning: string[];
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const PINNING = /^\s*(SET\s|PREPARE\s|LISTEN\s|DECLARE\s|CREATE\s+(TEMP|TEMPORARY)\s)|pg_advisory_lock|pg_advisory_xact_lock/i;

export class FrontendMessageCounter {
  readonly counts: WireCounts = { byType: {}, queries: 0, maxQueryBytes: 0, pinning: [] };
  private buffer: Buffer = Buffer.alloc(0);
  /** Startup-phase messages carry no type byte. */
  private startup = true;

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const header = this.startup ? 4 : 5;
      if (this.buffer.length < header) return;
      const length = this.buffer.readInt32BE(header - 4);
      const total = length + header - 4;
      if (this.buffer.length < total) return;
      const message = this.buffer.subarray(0, total);
      this.buffer = this.buffer.subarray(total);
      if (this.startup) this.onStartup(message);
      else this.onTyped(String.fromCharCode(message[0] as number), message.subarray(5));
    }
  }

  private onStartup(message: Buffer): void {
    const code = message.length >= 8 ? message.readInt32BE(4) : 0;
    // SSL/GSS requests are followed by the real startup message, still untyped.
    if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.startup = false;
  }

  private onTyped(type: string, body: Buffer): void {
    this.counts.byType[type] = (this.counts.byType[type] ?? 0) + 1;
    if (type !== 'Q') return;
    const bytes = body.length > 0 && body[body.length - 1] === 0 ? body.length - 1 : body.length;
    this.counts.queries++;
    this.counts.maxQueryBytes = Math.max(this.counts.maxQueryBytes, bytes);
    const text = body.subarray(0, Math.min(bytes, 4_096)).toString('utf8');
    if (PINNING.test(text)) this.counts.pinning.push(text.slice(0, 80).replace(/\s+/g, ' '));
  }
}
