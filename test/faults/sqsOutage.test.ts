import { afterAll, expect, it } from 'vitest';
import { onInvocations } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, report, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../helpers/faults/harness.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
let proxy: TcpProxy | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await proxy?.stop();
  await run?.stop();
});

it('loses no derived event and fails no batch while SQS refuses: the outbox keeps them until it is back', async () => {
  // Prepare: the functions reach SQS through a proxy (the mappings and the harness talk to the
  // emulator directly). It refuses from the third ingest invocation until three more have ended,
  // each of them unable to publish. New sources above 2.5 bar fire a rule, so derived events flow.
  run = await startFaultRun(faultConfig());
  const sqs = await startTcpProxy({ targetPort: Number(new URL(run.env.sqsEndpoint).port) });
  proxy = sqs;
  run.env.functionEnv.AWS_ENDPOINT_URL_SQS = sqs.endpoint;
  const fault = onInvocations({
    before: (n) => {
      if (n === 3) sqs.refuse();
    },
    after: async (n) => {
      if (n === 6) await sqs.up();
    },
  });
  // Maintenance sends what is left once the stream goes quiet, as its schedule does in AWS.
  pipeline = run.pipeline({ wrapIngest: fault.wrap }, { maintenanceEveryMs: 3_000 });
  await pipeline.start();
  const triggers = ruleTriggers('SQSDOWN', 60);

  // Act
  const [sim] = await Promise.all([pipeline.simulate(400, 8, 14), trickle(run, triggers, 8_000)]);
  const drained = await pipeline.drain(90_000);
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  const publishFailed = pipeline.metric('OutboxPublishFailed');
  report('SQS refusing for three ingest invocations', a, [
    `outbox messages left for later: ${publishFailed}; refused connections: ${sqs.stats.refused}; ingest function errors: ${fault.counters.failures}`,
  ]);
  expect(drained).toBe(true);
  expect(sqs.stats.refused).toBeGreaterThan(0);
  expect(publishFailed).toBeGreaterThan(0);
  expect(fault.counters.failures).toBe(0);
  const produced = sim.sent + triggers.length;
  expect(a.telemetry).toMatchObject({ produced, distinctIds: produced, written: produced, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(a.derived.expected).toBeGreaterThanOrEqual(triggers.length);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
  expect(a.derived.written).toBe(a.derived.expected);
});
