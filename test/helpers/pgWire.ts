/**
 * Reads the PostgreSQL frontend protocol (client -> server, v3) off a TCP tap, and says what of it
 * would pin an RDS Proxy connection (aws-semantics.md): the extended query protocol (node-postgres
 * uses it for any query with parameters), statement text over 16 KB, SET / set_config, PREPARE,
 * LISTEN, cursors, temporary tables and advisory locks. The one decoder and classifier of the
 * tests (connection, pinning, writer) and the bench's proxy check.
 */
export type FrontendMessage =
  | { kind: 'ssl-request' }
  | { kind: 'startup'; parameters: Record<string, string> }
  /** Simple query ('Q'); `bytes` is the UTF-8 length of the text without its trailing NUL. */
  | { kind: 'query'; text: string; bytes: number }
  /** Extended protocol Parse ('P'). */
  | { kind: 'parse'; text: string; bytes: number }
  /** Bind ('B'), Execute ('E'), Sync ('S'), CopyData ('d'), Terminate ('X'), password ('p'), ... */
  | { kind: 'other'; type: string };

/** RDS Proxy pins on statement text over 16 KB. */
export const PIN_BYTES = 16 * 1024;

export type PinReason = 'extended-protocol' | 'oversized' | 'set' | 'prepare' | 'listen' | 'cursor' | 'temp-table' | 'advisory-lock';

export interface Pin {
  reason: PinReason;
  /** The statement (or the message, for the protocol and size), first 80 characters on one line. */
  statement: string;
}

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;

/** One decoder per connection: messages can be split across TCP chunks, or share one. */
export class FrontendDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  /** Startup-phase messages (SSL request, startup) carry no type byte. */
  private started = false;
  /** Decoded so far; a reader may empty it (`length = 0`) to count afresh on an open connection. */
  readonly messages: FrontendMessage[] = [];

  push(chunk: Buffer): void {
    // COPY streams many chunks: concatenate only when a message straddles two.
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const header = this.started ? 5 : 4;
      if (this.buffer.length < header) return;
      const total = this.buffer.readInt32BE(header - 4) + header - 4;
      if (this.buffer.length < total) return;
      const message = this.buffer.subarray(0, total);
      this.buffer = this.buffer.subarray(total);
      if (this.started) this.messages.push(typed(String.fromCharCode(message[0]!), message.subarray(5)));
      else this.messages.push(this.untyped(message));
    }
  }

  private untyped(message: Buffer): FrontendMessage {
    const code = message.length >= 8 ? message.readInt32BE(4) : 0;
    // An SSL/GSS request is followed by the real startup message, still untyped.
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) return { kind: 'ssl-request' };
    this.started = true;
    return { kind: 'startup', parameters: startupParameters(message.subarray(8)) };
  }
}

function typed(type: string, body: Buffer): FrontendMessage {
  if (type === 'Q') {
    const bytes = body.length - 1;
    return { kind: 'query', text: body.toString('utf8', 0, bytes), bytes };
  }
  if (type === 'P') {
    const start = body.indexOf(0) + 1; // after the statement name
    const end = body.indexOf(0, start);
    return { kind: 'parse', text: body.toString('utf8', start, end), bytes: end - start };
  }
  return { kind: 'other', type };
}

function startupParameters(body: Buffer): Record<string, string> {
  const parts = body.toString('utf8').split('\u0000');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) out[parts[i]!] = parts[i + 1]!;
  return out;
}

// At the start of a statement (comments and literals already blanked out).
const STATEMENT_PINS: Array<[PinReason, RegExp]> = [
  // Session settings and other per-session state (a loaded library, a reset one).
  ['set', /^(SET|RESET|DISCARD|LOAD)\b/i],
  ['prepare', /^(PREPARE|EXECUTE|DEALLOCATE)\b/i],
  ['listen', /^(UN)?LISTEN\b/i],
  ['cursor', /^DECLARE\b/i],
  ['temp-table', /^CREATE\s+(GLOBAL\s+|LOCAL\s+)?(TEMP|TEMPORARY)\b|^SELECT\b.*\bINTO\s+(TEMP|TEMPORARY)\b/is],
];
// Anywhere in a statement (a function call).
const CALL_PINS: Array<[PinReason, RegExp]> = [
  ['set', /\bset_config\s*\(/i],
  ['advisory-lock', /\bpg_(try_)?advisory_(xact_)?lock(_shared)?\s*\(/i],
];

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 80);

/** What in one frontend message would pin an RDS Proxy connection (none: an empty list). */
export function pinsOf(m: FrontendMessage): Pin[] {
  if (m.kind === 'parse') return [{ reason: 'extended-protocol', statement: oneLine(m.text) }];
  if (m.kind === 'other' && m.type === 'B') return [{ reason: 'extended-protocol', statement: '(Bind)' }];
  if (m.kind !== 'query') return [];
  const pins: Pin[] = m.bytes > PIN_BYTES ? [{ reason: 'oversized', statement: `${oneLine(m.text)} (${m.bytes} bytes)` }] : [];
  for (const statement of splitStatements(m.text)) {
    for (const [reason, pattern] of STATEMENT_PINS) if (pattern.test(statement.code)) pins.push({ reason, statement: oneLine(statement.text) });
    for (const [reason, pattern] of CALL_PINS) if (pattern.test(statement.code)) pins.push({ reason, statement: oneLine(statement.text) });
  }
  return pins;
}

export const pinsOfAll = (messages: readonly FrontendMessage[]): Pin[] => messages.flatMap(pinsOf);

/**
 * The statements of a simple query (one message may carry several, joined by ";"): `text` as sent,
 * `code` with string literals, quoted identifiers and comments blanked, so that a `;` or a `SET`
 * inside data (JSON rows travel as literals) is not taken for SQL.
 */
export function splitStatements(sql: string): Array<{ text: string; code: string }> {
  const out: Array<{ text: string; code: string }> = [];
  let code = '';
  let start = 0;
  let i = 0;
  const end = (at: number) => {
    const text = sql.slice(start, at).trim();
    if (text !== '') out.push({ text, code: code.trim() });
    code = '';
    start = at + 1;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const skip = literalEnd(sql, i);
    if (skip > i) {
      code += ' ';
      i = skip;
    } else if (c === ';') {
      end(i);
      i++;
    } else {
      code += c;
      i++;
    }
  }
  end(sql.length);
  return out;
}

/** The index after a literal, quoted identifier or comment starting at `i`; `i` when none starts there. */
function literalEnd(sql: string, i: number): number {
  const c = sql[i]!;
  const next = sql[i + 1];
  if (c === '-' && next === '-') {
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl;
  }
  if (c === '/' && next === '*') {
    const close = sql.indexOf('*/', i + 2);
    return close < 0 ? sql.length : close + 2;
  }
  if (c === "'" || c === '"') {
    // E'...' strings escape with a backslash; all of them (and identifiers) by doubling the quote.
    const backslashes = c === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
    let j = i + 1;
    while (j < sql.length) {
      if (backslashes && sql[j] === '\\') j += 2;
      else if (sql[j] === c && sql[j + 1] === c) j += 2;
      else if (sql[j] === c) return j + 1;
      else j++;
    }
    return sql.length;
  }
  if (c === '$') {
    const tag = /^\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$/.exec(sql.slice(i, i + 64));
    if (!tag || /\w/.test(sql[i - 1] ?? '')) return i;
    const close = sql.indexOf(tag[0], i + tag[0].length);
    return close < 0 ? sql.length : close + tag[0].length;
  }
  return i;
}

export interface FrontendTap {
  /** For startTcpProxy: sees each chunk a client sends. */
  tap: (connectionId: number, chunk: Buffer) => void;
  connections: Map<number, FrontendDecoder>;
  /** Every connection's messages since the last reset. */
  messages(): FrontendMessage[];
  /** Starts counting afresh; pooled connections stay open, each decoder keeps its place in the stream. */
  reset(): void;
}

/** A tap for startTcpProxy that decodes every connection's frontend messages. */
export function frontendTap(): FrontendTap {
  const connections = new Map<number, FrontendDecoder>();
  return {
    connections,
    tap(connectionId, chunk) {
      let decoder = connections.get(connectionId);
      if (!decoder) connections.set(connectionId, (decoder = new FrontendDecoder()));
      decoder.push(chunk);
    },
    messages: () => [...connections.values()].flatMap((c) => c.messages),
    reset() {
      for (const c of connections.values()) c.messages.length = 0;
    },
  };
}

export interface WireSummary {
  /** Messages by type letter ('Q', 'P', 'B', 'E', 'S', 'd' CopyData, ...). */
  byType: Record<string, number>;
  queries: number;
  parses: number;
  /** Bytes of the longest simple-query text. */
  maxQueryBytes: number;
  pins: Pin[];
}

const typeLetter = (m: FrontendMessage) => (m.kind === 'query' ? 'Q' : m.kind === 'parse' ? 'P' : m.kind === 'other' ? m.type : m.kind);

export function summarizeWire(messages: readonly FrontendMessage[]): WireSummary {
  const byType: Record<string, number> = {};
  let maxQueryBytes = 0;
  for (const m of messages) {
    if (m.kind === 'ssl-request' || m.kind === 'startup') continue;
    const t = typeLetter(m);
    byType[t] = (byType[t] ?? 0) + 1;
    if (m.kind === 'query') maxQueryBytes = Math.max(maxQueryBytes, m.bytes);
  }
  return { byType, queries: byType.Q ?? 0, parses: byType.P ?? 0, maxQueryBytes, pins: pinsOfAll(messages) };
}
