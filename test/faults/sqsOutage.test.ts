import { afterAll, expect, it } from 'vitest';
import { faultConfig, outage, report, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../../local/faults/harness.ts';
import { startTcpProxy, type TcpProxy } from '../../local/faults/tcpProxy.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
let proxy: TcpProxy | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await proxy?.stop();
  await run?.stop();
});

const OUTAGE_MS = 8_000;

it('loses no derived event when the SQS endpoint is unreachable while ingest publishes them', async () => {
  // Prepare: the ingest function reaches SQS through a proxy that can go down; the mappings and
  // the harness keep talking to the emulator directly. A new source above 2.5 bar fires a rule,
  // so the trickled triggers keep derived events flowing through the outage.
  run = await startFaultRun(faultConfig());
  proxy = await startTcpProxy({ targetPort: Number(new URL(run.env.sqsEndpoint).port) });
  run.env.functionEnv.AWS_ENDPOINT_URL_SQS = proxy.endpoint;
  pipeline = run.pipeline();
  await pipeline.start();
  const triggers = ruleTriggers('SQSDOWN', 60);
  const sqsProxy = proxy;

  // Act
  const [sim] = await Promise.all([pipeline.simulate(400, 10, 14), outage(2_000, OUTAGE_MS, () => sqsProxy.down(), () => sqsProxy.up()), trickle(run, triggers, 10_000)]);
  const drained = await pipeline.drain(90_000);
  const errors = (await pipeline.snapshot()).functionErrors;
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  report(`SQS endpoint unavailable for ${OUTAGE_MS / 1000} s while publishing derived events`, a, [
    `ingest invocations failed on publish (redelivered): ${errors}; connections through the proxy: ${sqsProxy.stats.connections}`,
  ]);
  expect(drained).toBe(true);
  expect(errors).toBeGreaterThan(0);
  const produced = sim.sent + triggers.length;
  expect(a.telemetry).toMatchObject({ produced, distinctIds: produced, written: produced, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(a.derived.expected).toBeGreaterThanOrEqual(triggers.length);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
  expect(a.derived.written).toBe(a.derived.expected);
});
