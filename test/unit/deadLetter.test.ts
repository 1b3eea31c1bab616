import { describe, expect, it } from 'vitest';
import { deadLetter } from '#core/ingest/deadLetter';
import { sqsSafeJson } from '#core/queue';
import { decodeRecord } from '#core/record';
import { base64, streamRecord, telemetry } from '../helpers/records.ts';

// SendMessage's MessageBody: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
const SQS_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const window = { maxPastSeconds: 7 * 86_400, maxFutureSeconds: 300 };

describe('dead-letter entries', () => {
  it.each([
    ['not JSON with U+FFFE and U+FFFF', Buffer.from('\uFFFE{oops\uFFFF', 'utf8').toString('base64')],
    ['an unknown key "\\uffff" (ASCII-only record)', base64(`{"v":1,"\\uffff":1}`)],
    ['a lone surrogate escaped in a string', base64('{"v":1,"id":"\\ud800"}')],
    ['control characters in the text', base64('\u0001\u0002{')],
  ])('are always a body SQS accepts, whatever the record held: %s', (_kind, data) => {
    // Prepare
    const decoded = decodeRecord(data, Date.now(), window);
    if (decoded.ok) throw new Error('expected an invalid record');

    // Act
    const entry = deadLetter(streamRecord(data, 1), decoded.error.reason, decoded.error.detail, Date.now());
    const sent = sqsSafeJson(entry.body);

    // Assess: acceptable to SQS, and the same entry once parsed.
    expect(sent).toMatch(SQS_BODY);
    expect(JSON.parse(sent)).toEqual(JSON.parse(entry.body));
    expect((JSON.parse(sent) as { data: unknown }).data).toBe(data);
  });

  it('bounds the detail, keeps the whole payload as base64, and is keyed by the stream record', () => {
    const r = streamRecord(telemetry(), 42);
    const entry = deadLetter(r, 'schema', 'x'.repeat(5_000), Date.now());
    const body = JSON.parse(entry.body) as { detail: string; data: string };
    expect(body.detail.length).toBeLessThanOrEqual(503);
    expect(body.data).toBe(r.data);
    expect(entry.key).toBe(`${r.eventSourceARN}|${r.shardId}|42`);
  });
});
