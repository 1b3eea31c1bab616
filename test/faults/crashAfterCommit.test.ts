import { afterAll, expect, it } from 'vitest';
import { crashAfterCommit } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, report, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../helpers/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await run?.stop();
});

it('writes each record once when the function dies after its commit, before the batch is checkpointed', async () => {
  // Prepare: every other invocation throws after the real handler committed (and published): the
  // first, its retry passes, the next batch's first delivery throws again. So at least two crashes
  // whatever the machine's load makes of the batching (fewer, larger batches when it is busy).
  run = await startFaultRun(faultConfig());
  const fault = crashAfterCommit(2);
  pipeline = run.pipeline({ wrapIngest: fault.wrap });
  await pipeline.start();
  const triggers = ruleTriggers('CRASH', 40);

  // Act
  const [sim] = await Promise.all([pipeline.simulate(500, 6, 12), trickle(run, triggers, 5_000)]);
  const drained = await pipeline.drain(60_000);
  const errors = (await pipeline.snapshot()).functionErrors;
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  report('crash after the database commit, before the checkpoint', a, [
    `crashes injected: ${fault.counters.injected} of ${fault.counters.invocations} invocations; redelivered records skipped: ${pipeline.metric('RedeliveredRecords')}`,
  ]);
  expect(drained).toBe(true);
  expect(fault.counters.injected).toBeGreaterThanOrEqual(2);
  expect(errors).toBeGreaterThanOrEqual(fault.counters.injected);
  const produced = sim.sent + triggers.length;
  expect(a.telemetry).toMatchObject({ produced, distinctIds: produced, written: produced, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(pipeline.metric('RedeliveredRecords')).toBeGreaterThan(0);
  expect(a.derived.expected).toBeGreaterThanOrEqual(triggers.length);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
});
