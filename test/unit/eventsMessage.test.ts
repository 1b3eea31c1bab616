import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DerivedEvent } from '#core/events';
import { ENVELOPE_MAX_BYTES, envelopes, readEventsMessage } from '#core/eventsMessage';
import { anomalyEvent, ruleEvent } from '../helpers/sqs.ts';

const asMessage = (e: DerivedEvent) => ({ id: e.id, body: JSON.stringify(e) });

describe('events queue envelopes', () => {
  it('packs events into envelopes of at most the size limit that read back as the same events, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 80 }), fc.integer({ min: 200, max: 4_000 }), (kinds, maxBytes) => {
        // Prepare
        const events = kinds.map((rule) => (rule ? ruleEvent() : anomalyEvent()));

        // Act
        const packed = envelopes(events.map(asMessage), maxBytes);

        // Assess
        expect(packed.flatMap((p) => readEventsMessage(p.body).events)).toEqual(events);
        for (const p of packed) {
          expect(p.id).toBe(p.members[0]?.id);
          // Only an event too large for any envelope may overflow one, alone.
          if (Buffer.byteLength(p.body) > maxBytes) expect(p.members).toHaveLength(1);
          expect(readEventsMessage(p.body)).toMatchObject({ envelope: true, invalid: [] });
        }
      }),
      { seed: 14 },
    );
  });

  it('puts a batch of derived events in one envelope of the size SQS bills as one request', () => {
    const batch = Array.from({ length: 100 }, () => asMessage(anomalyEvent()));
    const packed = envelopes(batch);
    expect(packed).toHaveLength(1);
    expect(Buffer.byteLength(packed[0]!.body)).toBeLessThanOrEqual(ENVELOPE_MAX_BYTES);
    expect(envelopes(Array.from({ length: 400 }, () => asMessage(anomalyEvent())))).toHaveLength(2);
  });

  it('reads a single event as older publishers and hand-made messages send it', () => {
    const event = ruleEvent();
    expect(readEventsMessage(JSON.stringify(event))).toEqual({ envelope: false, events: [event], invalid: [] });
  });

  it('keeps the valid events of an envelope and says where each invalid part is', () => {
    // Prepare
    const ok = ruleEvent();
    const body = JSON.stringify({ v: 1, events: [ok, { ...anomalyEvent(), sigma: -1 }, 'nonsense'] });

    // Act
    const read = readEventsMessage(body);

    // Assess
    expect(read.events).toEqual([ok]);
    expect(read.invalid).toHaveLength(2);
    expect(read.invalid[0]).toMatch(/^schema: events\.1\.sigma: /);
    expect(read.invalid[1]).toMatch(/^schema: events\.2: /);
  });

  it('refuses text that is not JSON, and an envelope of another shape, whole', () => {
    expect(readEventsMessage('{"v":1,"events":[')).toMatchObject({ events: [], invalid: [expect.stringMatching(/^not_json: /)] });
    expect(readEventsMessage('{"v":2,"events":[]}')).toMatchObject({ envelope: true, events: [], invalid: [expect.stringMatching(/^schema: envelope\.v: /)] });
    expect(readEventsMessage('{"v":1,"events":[]}').invalid).toEqual([expect.stringMatching(/^schema: envelope\.events: /)]);
  });
});
