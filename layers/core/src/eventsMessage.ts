import * as z from 'zod';
import { chunk } from './chunks.ts';
import { DerivedEventSchema, type DerivedEvent } from './events.ts';
import { firstIssue } from './json.ts';

/**
 * The events queue's messages: one derived event, or an envelope of several (ADR 0014). Ingest
 * sends a batch's events as envelopes of at most 64 KiB, the size SQS bills as one request; the
 * writer reads both, so single events (older publishers, a hand-made message) still go in.
 */
export const ENVELOPE_MAX_BYTES = 64 * 1024;

const OPEN = '{"v":1,"events":[';
const CLOSE = ']}';

export interface Envelope<M> {
  /** The first member's id: unique among a send's envelopes, as the members' ids are. */
  id: string;
  body: string;
  members: M[];
}

/** Messages whose bodies are derived events (JSON text) as envelopes of at most `maxBytes`; one too large for any goes alone in one. */
export function envelopes<M extends { id: string; body: string }>(messages: readonly M[], maxBytes = ENVELOPE_MAX_BYTES): Envelope<M>[] {
  const groups = chunk(messages, { maxBytes, emptyBytes: OPEN.length + CLOSE.length, bytes: (m) => Buffer.byteLength(m.body) + 1 });
  return groups.map((members) => ({ id: members[0]!.id, body: `${OPEN}${members.map((m) => m.body).join(',')}${CLOSE}`, members }));
}

const EnvelopeShape = z.strictObject({ v: z.literal(1), events: z.array(z.unknown()).min(1) });

export interface ReadMessage {
  envelope: boolean;
  events: DerivedEvent[];
  /** Why each part that is not a derived event was refused: the message fails, its valid events are still stored. */
  invalid: string[];
}

/** The derived events of an events queue message body, and what in it is not one. */
export function readEventsMessage(body: string): ReadMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { envelope: false, events: [], invalid: [`not_json: ${(e as Error).message.slice(0, 200)}`] };
  }
  const envelope = isEnvelope(json) ? EnvelopeShape.safeParse(json) : undefined;
  if (envelope && !envelope.success) return { envelope: true, events: [], invalid: [`schema: ${firstIssue(envelope.error, ['envelope'])}`] };
  const parts = envelope ? envelope.data.events : [json];
  const read: ReadMessage = { envelope: envelope !== undefined, events: [], invalid: [] };
  parts.forEach((part, i) => {
    const parsed = DerivedEventSchema.safeParse(part);
    if (parsed.success) read.events.push(parsed.data);
    else read.invalid.push(`schema: ${firstIssue(parsed.error, envelope ? ['events', i] : [])}`);
  });
  return read;
}

const isEnvelope = (json: unknown): boolean => typeof json === 'object' && json !== null && 'events' in json;
