import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveAll } from '#core/redrive/queueMessages';
import { createBrewery } from '#core/simulator/brewery';
import type { LocalEnvironment } from '../../local/environment.ts';
import { kinesisEvent } from '../../local/events/kinesisEvent.ts';
import { ruleTriggers } from '../helpers/faults/harness.ts';
import { frontendTap, pinsOfAll, PIN_BYTES } from '../helpers/pgWire.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.ts';
import { lambdaContext, startEnvironment } from '../helpers/pipeline.ts';
import { sqsEventFromMessages } from '../helpers/sqs.ts';

let env: LocalEnvironment;
let proxy: TcpProxy;
const wire = frontendTap();

beforeAll(async () => {
  env = await startEnvironment();
  proxy = await startTcpProxy({ targetPort: Number(new URL(env.databaseUrl).port), tap: wire.tap });
  const url = new URL(env.databaseUrl);
  url.port = String(proxy.port);
  // The handlers' pool is created on first use from DATABASE_URL: point it through the wire tap.
  process.env.DATABASE_URL = url.toString();
});
afterAll(async () => {
  await proxy?.stop();
  await env?.stop();
});

describe('hot path statements as RDS Proxy sees them', () => {
  it('uses only simple-protocol statements under 16 KB, with no SET, prepared statement or other session state', async () => {
    // Prepare: a realistic batch (brewery readings, rule firings, an invalid record) for ingest,
    // then the derived events it published for the writer.
    const ingest = await import('../../functions/ingest/handler.ts');
    const writer = await import('../../functions/writer/handler.ts');
    const readings = [...createBrewery({ seed: 5 }).next(Date.now(), 600), ...ruleTriggers('PIN', 30)];
    const event = kinesisEvent([...readings, Buffer.from('not json').toString('base64')]);

    // Act
    const ingested = await ingest.handler(event, lambdaContext());
    const published = await receiveAll(env.sqs, env.queues.events.url, { waitSeconds: 0 });
    const written = await writer.handler(sqsEventFromMessages(published, env.queues.events.arn), lambdaContext());

    // Assess: the work was done...
    expect([ingested.batchItemFailures, written.batchItemFailures]).toEqual([[], []]);
    const { rows } = await env.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rule_events');
    expect(rows[0]?.n).toBeGreaterThanOrEqual(30);
    // ...through statements that keep the connection shareable.
    const messages = wire.messages();
    const queries = messages.flatMap((m) => (m.kind === 'query' ? [m] : []));
    // Ingest packs its statements into a few messages (reads, writes + outbox claim, COMMIT, outbox delete).
    expect(queries.length).toBeGreaterThan(4);
    expect(Math.max(...queries.map((q) => q.bytes))).toBeLessThanOrEqual(PIN_BYTES);
    expect(pinsOfAll(messages)).toEqual([]);
  });

  it("sends ingest's BEGIN with its first statements and COMMIT with its last: no message of their own", async () => {
    // Prepare
    const ingest = await import('../../functions/ingest/handler.ts');
    const event = kinesisEvent(createBrewery({ seed: 6 }).next(Date.now(), 200));
    const before = wire.messages().length;

    // Act
    const ingested = await ingest.handler(event, lambdaContext());

    // Assess
    expect(ingested.batchItemFailures).toEqual([]);
    const texts = wire
      .messages()
      .slice(before)
      .flatMap((m) => (m.kind === 'query' ? [m.text.trim()] : []));
    expect(texts.filter((t) => /^(BEGIN|COMMIT);?$/i.test(t))).toEqual([]);
    expect(texts.find((t) => t.endsWith('COMMIT'))).toMatch(/claimed_until[\s\S]*COMMIT$/);
  });
});
