import { afterAll, expect, it } from 'vitest';
import type { SimulatorResponse } from '../../functions/simulator/handler.ts';
import { faultConfig, report, startFaultRun, type FaultRun } from '../helpers/faults/harness.ts';
import { startKinesisThrottle, throttleSome, type KinesisThrottleProxy } from '../helpers/faults/kinesisThrottle.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
let throttle: KinesisThrottleProxy | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await throttle?.stop();
  await run?.stop();
});

it('resends only the entries Kinesis refused with ProvisionedThroughputExceededException, each reaching the stream once', async () => {
  // Prepare: the simulator reaches Kinesis through a proxy that refuses one entry in four once
  // (one in eight twice), as a hot shard does; the event source mapping reads the emulator directly.
  // Entries are KPL aggregates (the stage aggregates): a refused one is resent whole.
  run = await startFaultRun(faultConfig());
  throttle = await startKinesisThrottle(run.env.awsEndpoint, throttleSome(4));
  run.env.functionEnv.AWS_ENDPOINT_URL_KINESIS = throttle.endpoint;
  pipeline = run.pipeline();
  await pipeline.start();

  // Act
  const sim = (await pipeline.simulate(500, 6, 15)) as SimulatorResponse;
  const drained = await pipeline.drain(60_000);
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  const t = throttle.stats;
  report('Kinesis throttling on the producer side', a, [
    `PutRecords calls ${t.putRecordsCalls}; entries sent ${t.entriesSeen} = Kinesis records ${sim.kinesisRecords} (${sim.produced} readings) + resent ${sim.retries}; throttled ${t.entriesThrottled}, accepted ${t.entriesAccepted}`,
  ]);
  expect(drained).toBe(true);
  expect(t.entriesThrottled).toBeGreaterThan(sim.kinesisRecords / 8);
  expect(sim).toMatchObject({ sent: sim.produced, failed: 0, throttled: t.entriesThrottled, retries: t.entriesThrottled });
  expect(t.entriesSeen).toBe(sim.kinesisRecords + t.entriesThrottled);
  expect(t.entriesAccepted).toBe(sim.kinesisRecords);
  expect(a.telemetry).toMatchObject({ produced: sim.produced, distinctIds: sim.produced, written: sim.produced, deadLettered: 0, onFailure: 0 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0 });
});
