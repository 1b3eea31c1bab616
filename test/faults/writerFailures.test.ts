import { afterAll, expect, it } from 'vitest';
import { sendMessages } from '#core/queue';
import { peekQueue } from '../helpers/faults/accounting.ts';
import { writerPartialFailures } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, report, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../helpers/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';
import { anomalyEvent, ruleEvent } from '../helpers/sqs.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await run?.stop();
});

const POISON = [
  'not json at all',
  '{"v":1,"kind":"rule","id":"not-a-hash"}',
  JSON.stringify({ ...anomalyEvent(), sigma: -1 }),
  '{"v":1,"kind":"maintenance","id":"00000000000000000000000000000000"}',
];

it('writes every derived event once through writer partial failures, and moves poison messages to the DLQ after maxReceiveCount', async () => {
  // Prepare: a 1 s writer timeout and no batching window make the visibility timeout 6 s, so a
  // failed message comes back quickly and a poison message reaches maxReceiveCount in ~30 s.
  // Without a window Lambda takes batches of at most 10.
  run = await startFaultRun(faultConfig((c) => ({ ...c, writer: { ...c.writer, timeoutSeconds: 1, batchWindowSeconds: 0, batchSize: 10 } })));
  const { maxReceiveCount } = run.env.config.eventsQueue;
  const fault = writerPartialFailures();
  pipeline = run.pipeline({ wrapWriter: fault.wrap });
  await pipeline.start();
  const direct = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? anomalyEvent() : ruleEvent()));
  const triggers = ruleTriggers('WRITER', 20);

  // Act
  await sendMessages(run.env.sqs, run.env.queues.events.url, [
    ...direct.map((e) => ({ id: e.id, body: JSON.stringify(e) })),
    ...POISON.map((body, i) => ({ id: `poison-${i}`, body })),
  ]);
  const [sim] = await Promise.all([pipeline.simulate(300, 5, 17), trickle(run, triggers, 4_000)]);
  const drained = await pipeline.drain(120_000);
  await pipeline.stop();

  // Assess
  const a = await run.account(
    pipeline,
    direct.map((e) => e.id),
  );
  report('writer partial failures and poison messages', a, [
    `writer failures injected: ${fault.counters.injected}; rewritten as duplicates: ${pipeline.metric('DerivedEventsDuplicate')}; ` +
      `poison deliveries: ${POISON.map((p) => fault.counters.deliveries.get(p) ?? 0).join(', ')}`,
  ]);
  expect(drained).toBe(true);
  expect(fault.counters.injected).toBeGreaterThan(20);
  expect(pipeline.metric('DerivedEventsDuplicate')).toBeGreaterThan(0);
  expect(a.derived.expected).toBeGreaterThanOrEqual(direct.length + triggers.length);
  expect(a.derived).toMatchObject({ written: a.derived.expected, lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
  expect((await peekQueue(run.env, run.env.queues.eventsDlq.url)).sort()).toEqual([...POISON].sort());
  expect(POISON.map((p) => fault.counters.deliveries.get(p))).toEqual(POISON.map(() => maxReceiveCount));
  const produced = sim.sent + triggers.length;
  expect(a.telemetry).toMatchObject({ produced, written: produced, lost: 0, duplicated: 0, deadLettered: 0, onFailure: 0 });
});
