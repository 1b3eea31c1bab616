/**
 * Reads the PostgreSQL frontend protocol (client -> server) off a TCP tap, to see what a client
 * really sends: startup parameters, simple queries ('Q'), extended-protocol parses ('P'). RDS Proxy
 * pins a connection on SET, prepared statements, the extended protocol and statements over 16 KB,
 * so this is how a test proves the hot path does none of that.
 */
export type FrontendMessage =
  | { kind: 'ssl-request' }
  | { kind: 'startup'; parameters: Record<string, string> }
  | { kind: 'query'; text: string; bytes: number }
  | { kind: 'parse'; text: string }
  | { kind: 'other'; type: string };

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;

/** One decoder per connection: messages can be split across TCP chunks, or share one. */
export class FrontendDecoder {
  private buffer = Buffer.alloc(0);
  private started = false;
  readonly messages: FrontendMessage[] = [];

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const body = this.buffer.subarray(8, length);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.messages.push({ kind: 'ssl-request' });
          continue;
        }
        this.started = true;
        this.messages.push({ kind: 'startup', parameters: startupParameters(body) });
        continue;
      }
      if (this.buffer.length < 5) return;
      const type = String.fromCharCode(this.buffer[0]!);
      const length = this.buffer.readInt32BE(1);
      if (this.buffer.length < 1 + length) return;
      const body = this.buffer.subarray(5, 1 + length);
      this.buffer = this.buffer.subarray(1 + length);
      if (type === 'Q') {
        const text = body.subarray(0, body.length - 1).toString('utf8');
        this.messages.push({ kind: 'query', text, bytes: body.length - 1 });
      } else if (type === 'P') {
        const nameEnd = body.indexOf(0);
        const textEnd = body.indexOf(0, nameEnd + 1);
        this.messages.push({ kind: 'parse', text: body.subarray(nameEnd + 1, textEnd).toString('utf8') });
      } else {
        this.messages.push({ kind: 'other', type });
      }
    }
  }
}

function startupParameters(body: Buffer): Record<string, string> {
  const parts = body.toString('utf8').split('\u0000').filter((p) => p.length > 0);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]!] = parts[i + 1]!;
  return out;
}

/** A tap for startTcpProxy that decodes every connection's frontend messages. */
export function frontendTap(): { tap: (connectionId: number, chunk: Buffer) => void; connections: Map<number, FrontendDecoder> } {
  const connections = new Map<number, FrontendDecoder>();
  return {
    connections,
    tap(connectionId, chunk) {
      let decoder = connections.get(connectionId);
      if (!decoder) connections.set(connectionId, (decoder = new FrontendDecoder()));
      decoder.push(chunk);
    },
  };
}
