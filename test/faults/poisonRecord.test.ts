import { afterAll, expect, it } from 'vitest';
import { parseOnFailureMessage } from '#core/redrive/onFailureMessage';
import { peekQueue } from '../helpers/faults/accounting.ts';
import { readWholeStream } from '../helpers/kinesis.ts';
import { payloadContains, throwOnRecord } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, report, sleep, startFaultRun, type FaultRun } from '../helpers/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
afterAll(async () => {
  await pipeline?.stop();
  await run?.stop();
});

const MARKER = 'poison-record-7f3a';

it('isolates a record that makes the handler throw by bisect, sends it to OnFailure after the retries, and writes the rest of its shard', async () => {
  // Prepare: a valid reading (not an invalid record: the code, not the data, is at fault) from a
  // simulator source, so it shares its shard with ordinary traffic before and after it.
  run = await startFaultRun(faultConfig());
  const { maxRetryAttempts } = run.env.config.ingest;
  const fault = throwOnRecord(payloadContains(`"id":"${MARKER}"`));
  pipeline = run.pipeline({ wrapIngest: fault.wrap });
  await pipeline.start();
  const poison = { v: 1 as const, id: MARKER, source: 'FBE_04', fact: 'temperature_c', ts: new Date().toISOString(), value: 64.2 };

  // Act
  const putPoison = async () => {
    await sleep(2_500);
    await run?.put([{ ...poison, ts: new Date().toISOString() }]);
  };
  const [sim] = await Promise.all([pipeline.simulate(400, 7, 16), putPoison()]);
  const drained = await pipeline.drain(90_000);
  await pipeline.stop();

  // Assess
  const a = await run.account(pipeline);
  report('a record that makes the handler throw', a, [`batch sizes delivered with the poison record: ${fault.counters.batchSizesWithPoison.join(' -> ')}`]);
  expect(drained).toBe(true);
  const sizes = fault.counters.batchSizesWithPoison;
  expect(sizes[0]).toBeGreaterThan(1);
  expect(sizes.filter((n) => n === 1)).toHaveLength(maxRetryAttempts + 1);
  const failures = (await peekQueue(run.env, run.env.queues.onFailure.url)).map(parseOnFailureMessage);
  const stored = (await readWholeStream(run.env.kinesis, run.env.streamName)).find((r) => Buffer.from(r.data).includes(MARKER));
  expect(failures.map((f) => [f?.requestContext.condition, f?.KinesisBatchInfo.batchSize, f?.KinesisBatchInfo.startSequenceNumber, f?.KinesisBatchInfo.endSequenceNumber])).toEqual(
    [['RetryAttemptsExhausted', 1, stored?.sequenceNumber, stored?.sequenceNumber]],
  );
  const produced = sim.sent + 1;
  expect(a.telemetry).toMatchObject({ produced, distinctIds: produced, written: produced - 1, deadLettered: 0, onFailure: 1 });
  expect(a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  const { rows } = await run.env.db.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry_events WHERE event_id = $1', [MARKER]);
  expect(rows).toEqual([{ n: 0 }]);
  expect(a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0 });
});
