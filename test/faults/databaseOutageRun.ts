import { expect } from 'vitest';
import { onInvocations } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, ruleTriggers, startFaultRun, trickle, type FaultRun } from '../helpers/faults/harness.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';

/**
 * One database outage scenario per test file: the handlers keep their pool for the life of the
 * module, as in a Lambda container, so a second scenario in the same file would reuse the first's.
 */
export interface OutageState {
  refusedConnections: number;
  failedInvocations: number;
}

let run: FaultRun | undefined;
let pipeline: LocalPipeline | undefined;
let proxy: TcpProxy | undefined;

export async function stopOutageRun(): Promise<void> {
  await pipeline?.stop();
  await proxy?.stop();
  await run?.stop();
}

/**
 * The functions reach PostgreSQL through a proxy that refuses connections from the third ingest
 * invocation on, until `recovered` says so: the outage starts and ends on events, not on a clock.
 */
export async function outageRun(tag: string, recovered: (state: OutageState) => boolean) {
  // An 8 s function timeout leaves ~5 s of in-invocation retries (3 s are kept in reserve).
  run = await startFaultRun(faultConfig((c) => ({ ...c, ingest: { ...c.ingest, timeoutSeconds: 8 } })));
  const db = await startTcpProxy({ targetPort: Number(new URL(run.env.databaseUrl).port) });
  proxy = db;
  const url = new URL(run.env.databaseUrl);
  url.port = String(db.port);
  run.env.functionEnv.DATABASE_URL = url.href;
  let failedInvocations = 0;
  const check = (refusedConnections: number) => {
    if (recovered({ refusedConnections, failedInvocations })) void db.up();
  };
  const fault = onInvocations({
    before: (n) => {
      if (n === 3) db.refuse(check);
    },
    after: (_n, failures) => {
      failedInvocations = failures;
      check(db.stats.refused);
    },
  });
  pipeline = run.pipeline({ wrapIngest: fault.wrap });
  await pipeline.start();
  const triggers = ruleTriggers(tag, 30);
  const [sim] = await Promise.all([pipeline.simulate(400, 6, 13), trickle(run, triggers, 6_000)]);
  const drained = await pipeline.drain(120_000);
  await pipeline.stop();
  const a = await run.account(pipeline);
  return { a, drained, errors: fault.counters.failures, produced: sim.sent + triggers.length, refused: db.stats.refused };
}

export function expectNothingLost(r: Awaited<ReturnType<typeof outageRun>>): void {
  expect(r.drained).toBe(true);
  expect(r.a.telemetry).toMatchObject({ produced: r.produced, distinctIds: r.produced, written: r.produced, deadLettered: 0, onFailure: 0 });
  expect(r.a.telemetry).toMatchObject({ lost: 0, duplicated: 0, phantomRows: 0, duplicateKeys: 0 });
  expect(r.a.derived.expected).toBeGreaterThanOrEqual(30);
  expect(r.a.derived).toMatchObject({ lost: 0, pending: 0, phantom: 0, deadLettered: 0 });
}
