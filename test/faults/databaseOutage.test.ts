import { afterAll, expect, it } from 'vitest';
import { faultConfig, outage, report, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../../local/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await run?.stop();
});

const OUTAGE_MS = 10_000;

it('loses nothing when PostgreSQL is down for 10 s during ingest: retries in the invocation, then redelivery', async () => {
  // Prepare: a 15 s function timeout leaves ~5 s of in-invocation retries (the handler keeps 10 s
  // in reserve), so a 10 s outage outlasts them and the mapping has to redeliver as well.
  run = await startFaultRun(faultConfig((c) => ({ ...c, ingest: { ...c.ingest, timeoutSeconds: 15 } })));
  const postgres = run.env.postgres;
  if (!postgres) throw new Error('the scenario needs the embedded PostgreSQL');
  pipeline = run.pipeline();
  await pipeline.start();
  const triggers = ruleTriggers('DBDOWN', 30);

  // Act
  const [sim] = await Promise.all([pipeline.simulate(400, 8, 13), outage(2_000, OUTAGE_MS, () => postgres.pause(), () => postgres.resume()), trickle(run, triggers, 8_000)]);
  const drained = await pipeline.drain(120_000);
  const errors = (await pipeline.snapshot()).functionErrors;
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  report(`database unavailable for ${OUTAGE_MS / 1000} s during ingest`, a, [`function errors (redelivered by the mappings): ${errors}`]);
  expect(drained).toBe(true);
  expect(errors).toBeGreaterThan(0);
  const produced = sim.sent + triggers.length;
  expect(a.telemetry).toMatchObject({ produced, distinctIds: produced, written: produced, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(a.derived.expected).toBeGreaterThanOrEqual(triggers.length);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
});
