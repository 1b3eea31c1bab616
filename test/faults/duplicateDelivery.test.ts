import { afterAll, expect, it } from 'vitest';
import { deliverTwice } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, report, startFaultRun, type FaultRun } from '../helpers/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await run?.stop();
});

it('counts every record once when each batch is delivered twice at once and again after the next one', async () => {
  // Prepare
  run = await startFaultRun(faultConfig());
  const fault = deliverTwice();
  pipeline = run.pipeline({ wrapIngest: fault.wrap });
  await pipeline.start();

  // Act
  const sim = await pipeline.simulate(500, 6, 11);
  const drained = await pipeline.drain(60_000);
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  report('same batch delivered twice', a, [`extra deliveries injected: ${fault.counters.injected} over ${fault.counters.invocations} invocations`]);
  expect(drained).toBe(true);
  expect(fault.counters.injected).toBeGreaterThan(fault.counters.invocations);
  expect(a.telemetry).toMatchObject({ produced: sim.sent, distinctIds: sim.sent, written: sim.sent, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(a.telemetry.deduplicated).toBeGreaterThanOrEqual(sim.sent);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0 });
});
