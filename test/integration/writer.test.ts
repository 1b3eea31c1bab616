import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSRecord } from 'aws-lambda';
import { connectDatabase } from '#core/db/connect';
import { writeDerivedEvents } from '#core/db/derivedEventStore';
import { readEnv } from '#core/env';
import type { DerivedEvent } from '#core/events';
import { envelopes } from '#core/eventsMessage';
import { logger, metrics } from '#core/observability';
import { FullBatchFailureError, handler, lambdaHandler } from '../../functions/writer/handler.ts';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { frontendTap, PIN_BYTES, pinsOfAll } from '../helpers/pgWire.ts';
import { lambdaContext } from '../helpers/pipeline.ts';
import { anomalyEvent, ruleEvent, sqsEvent, sqsRecord } from '../helpers/sqs.ts';
import { startTcpProxy } from '../helpers/tcpProxy.ts';

let pg: MigratedPostgres;

beforeAll(async () => {
  pg = await startMigratedPostgres();
  // The handler's pool reads this on its first invocation, as it would in a Lambda container.
  process.env.DATABASE_URL = pg.url;
  logger.setLogLevel('SILENT');
});

afterAll(async () => {
  await pg?.stop();
});

afterEach(() => {
  vi.restoreAllMocks();
  metrics.clearMetrics();
});

const recordsOf = (events: DerivedEvent[]) => events.map((e) => sqsRecord(JSON.stringify(e)));

async function storedIds(): Promise<string[]> {
  const { rows } = await pg.db.query<{ event_id: string }>('SELECT event_id FROM rule_events UNION ALL SELECT event_id FROM anomaly_events ORDER BY 1');
  return rows.map((r) => r.event_id);
}

describe('writer handler against embedded PostgreSQL', () => {
  it('writes rule firings and anomalies to their tables', async () => {
    // Prepare
    const rule = ruleEvent({ source: 'FBE_01', ruleId: 'vessel_over_pressure' });
    const anomaly = anomalyEvent({ source: 'FBE_02', fact: 'pressure_bar', value: 3.1, ema: 1.2, sigma: 0.15 });

    // Act
    const response = await lambdaHandler(sqsEvent(recordsOf([rule, anomaly])));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const rules = await pg.db.query('SELECT event_id, ts, source, rule_id, rules_version FROM rule_events WHERE event_id = $1', [rule.id]);
    expect(rules.rows).toEqual([{ event_id: rule.id, ts: expect.any(String), source: 'FBE_01', rule_id: 'vessel_over_pressure', rules_version: '2026.11.1' }]);
    expect(Date.parse(String(rules.rows[0]?.ts))).toBe(Date.parse(rule.ts));
    const anomalies = await pg.db.query('SELECT source, fact_name, value, ema, sigma FROM anomaly_events WHERE event_id = $1', [anomaly.id]);
    expect(anomalies.rows).toEqual([{ source: 'FBE_02', fact_name: 'pressure_bar', value: 3.1, ema: 1.2, sigma: 0.15 }]);
  });

  it('writes nothing new when the same batch is delivered twice, and counts the duplicates', async () => {
    // Prepare
    const events = [ruleEvent(), anomalyEvent(), ruleEvent()];
    await lambdaHandler(sqsEvent(recordsOf(events)));
    const before = await storedIds();
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    const response = await lambdaHandler(sqsEvent(recordsOf(events)));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await storedIds()).toEqual(before);
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsWritten', MetricUnit.Count, 0);
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsDuplicate', MetricUnit.Count, 3);
  });

  it('reports exactly the invalid messages and writes their neighbours', async () => {
    // Prepare
    const first = ruleEvent();
    const last = anomalyEvent();
    const notJson = sqsRecord('{"v":1,"kind":');
    const badSchema = sqsRecord(JSON.stringify({ ...anomalyEvent(), sigma: -1 }));
    const records = [sqsRecord(JSON.stringify(first)), notJson, badSchema, sqsRecord(JSON.stringify(last))];
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    const response = await lambdaHandler(sqsEvent(records));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: notJson.messageId }, { itemIdentifier: badSchema.messageId }] });
    expect(await storedIds()).toEqual(expect.arrayContaining([first.id, last.id]));
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsInvalid', MetricUnit.Count, 2);
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsWritten', MetricUnit.Count, 2);
  });

  it('stores the events of envelopes, fails only the envelope holding an invalid event after storing its others, and counts them as duplicates when it comes back', async () => {
    // Prepare: two batches' events as ingest sends them, one of them with an event the schema refuses.
    const clean = [ruleEvent(), anomalyEvent()];
    const good = [ruleEvent(), anomalyEvent()];
    const [cleanEnvelope] = envelopes(clean.map((e) => ({ id: e.id, body: JSON.stringify(e) })));
    const [poisoned] = envelopes([...good, { ...anomalyEvent(), sigma: -1 }].map((e) => ({ id: e.id, body: JSON.stringify(e) })));
    const records = [sqsRecord(cleanEnvelope!.body), sqsRecord(poisoned!.body)];
    const addMetric = vi.spyOn(metrics, 'addMetric');

    // Act
    const response = await lambdaHandler(sqsEvent(records));
    const redelivered = await lambdaHandler(sqsEvent([records[1]!])).catch((e: unknown) => e);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.messageId }] });
    expect(await storedIds()).toEqual(expect.arrayContaining([...clean, ...good].map((e) => e.id)));
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsInvalid', MetricUnit.Count, 1);
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsWritten', MetricUnit.Count, 4);
    // Alone in its batch it fails the batch; its stored events are counted, not written again.
    expect(redelivered).toBeInstanceOf(FullBatchFailureError);
    expect(addMetric).toHaveBeenCalledWith('DerivedEventsDuplicate', MetricUnit.Count, 2);
  });

  it('fails the whole batch by throwing while the database is down, and writes it on redelivery', async () => {
    // Prepare
    const events = [ruleEvent(), anomalyEvent()];
    const records = [...recordsOf(events), sqsRecord('not json')];
    await pg.pause();

    // Act: thrown, so Lambda's Errors metric and the mapping's backoff see it.
    let down: unknown;
    try {
      down = await lambdaHandler(sqsEvent(records)).catch((e: unknown) => e);
    } finally {
      await pg.resume();
    }
    const redelivered = await lambdaHandler(sqsEvent(records));

    // Assess
    expect(down).toBeInstanceOf(Error);
    expect(redelivered.batchItemFailures).toEqual([{ itemIdentifier: records[2]?.messageId }]);
    expect(await storedIds()).toEqual(expect.arrayContaining(events.map((e) => e.id)));
  });

  it('throws when every message of the batch is invalid, so the failure shows as a function error', async () => {
    const records = [sqsRecord('not json'), sqsRecord('{}')];
    await expect(lambdaHandler(sqsEvent(records))).rejects.toThrow(FullBatchFailureError);
  });

  it('stores what the event schema accepts: offsets PostgreSQL refuses become the same instant in UTC', async () => {
    // Prepare: +16:00 is a valid ISO offset that timestamptz refuses; nine fraction digits it would round.
    const far = ruleEvent({ ts: '2026-11-23T04:00:00.123456789+16:00' });
    const neighbour = ruleEvent();

    // Act
    const response = await lambdaHandler(sqsEvent(recordsOf([far, neighbour])));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const { rows } = await pg.db.query<{ us: number }>('SELECT (extract(epoch FROM ts) * 1000000)::int8 AS us FROM rule_events WHERE event_id = $1', [far.id]);
    expect(rows[0]?.us).toBe(Date.parse('2026-11-22T12:00:00.123Z') * 1000 + 456);
  });

  it('reports only the message whose text PostgreSQL cannot store (NUL, lone surrogate), writing the rest', async () => {
    // Prepare
    const nul = sqsRecord(JSON.stringify(ruleEvent({ rulesVersion: 'v\u0000' })));
    const surrogate = sqsRecord(JSON.stringify(ruleEvent({ rulesVersion: 'v\ud800' })));
    const ok = ruleEvent();

    // Act
    const response = await lambdaHandler(sqsEvent([nul, surrogate, ...recordsOf([ok])]));

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: nul.messageId }, { itemIdentifier: surrogate.messageId }]);
    expect(await storedIds()).toContain(ok.id);
  });

  it('handles a record without attributes, as a hand-made or replayed event may be', async () => {
    const bare = { ...sqsRecord('not json'), attributes: undefined } as unknown as SQSRecord;
    const ok = ruleEvent();
    const response = await lambdaHandler(sqsEvent([bare, ...recordsOf([ok])]));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bare.messageId }]);
  });

  it('runs through the middy chain and flushes its metrics', async () => {
    // Prepare
    const event = ruleEvent();
    const publish = vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const context = lambdaContext(30_000, 'tapline-writer', 512);

    // Act
    const response = await handler(sqsEvent(recordsOf([event])), context);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publish).toHaveBeenCalledOnce();
    expect(await storedIds()).toContain(event.id);
  });
});

describe('writeDerivedEvents', () => {
  it('counts inserted and duplicate ids, including a repeat inside one batch', async () => {
    // Prepare
    const stored = ruleEvent();
    await writeDerivedEvents(pg.db, [stored]);
    const fresh = anomalyEvent();

    // Act
    const counts = await writeDerivedEvents(pg.db, [stored, fresh, fresh]);

    // Assess
    expect(counts).toEqual({ inserted: 1, duplicates: 2, refused: [] });
  });

  it('writes a batch larger than one 16 KB statement completely, in several statements that each stay under it', async () => {
    // Prepare: 300 events are about 50 KB of JSON; the writer's own pool, seen through a wire tap.
    const events = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? ruleEvent() : anomalyEvent()));
    const wire = frontendTap();
    const proxy = await startTcpProxy({ targetPort: Number(new URL(pg.url).port), tap: wire.tap });
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const db = await connectDatabase(readEnv({ DATABASE_URL: url.href, DB_POOL_MAX: '1' }));

    // Act
    const counts = await writeDerivedEvents(db, events).finally(async () => {
      await db.end();
      await proxy.stop();
    });

    // Assess
    expect(counts).toEqual({ inserted: 300, duplicates: 0, refused: [] });
    expect(await storedIds()).toEqual(expect.arrayContaining(events.map((e) => e.id)));
    const messages = wire.messages();
    const inserts = messages.flatMap((m) => (m.kind === 'query' && m.text.includes('INSERT INTO rule_events') ? [m.bytes] : []));
    expect(inserts.length).toBeGreaterThanOrEqual(3);
    for (const bytes of inserts) expect(bytes).toBeLessThan(PIN_BYTES);
    expect(pinsOfAll(messages)).toEqual([]);
  });

  it('isolates the one event the database refuses and writes the rest of its chunk', async () => {
    // Prepare: an event the schema would not pass (the writer validates first), refused by timestamptz.
    const refusedEvent = ruleEvent({ ts: '2026-11-22T12:00:00+16:00' });
    const events = [ruleEvent(), refusedEvent, anomalyEvent()];

    // Act
    const counts = await writeDerivedEvents(pg.db, events);

    // Assess
    expect(counts.inserted).toBe(2);
    expect(counts.refused.map((r) => r.event)).toEqual([refusedEvent]);
    expect(counts.refused[0]?.reason).toMatch(/time zone displacement out of range/);
  });

  it('stores values that need escaping unchanged', async () => {
    const event = ruleEvent({ rulesVersion: `it's \\ "quoted" $& $1` });
    await writeDerivedEvents(pg.db, [event]);
    const { rows } = await pg.db.query<{ rules_version: string }>('SELECT rules_version FROM rule_events WHERE event_id = $1', [event.id]);
    expect(rows).toEqual([{ rules_version: `it's \\ "quoted" $& $1` }]);
  });
});
