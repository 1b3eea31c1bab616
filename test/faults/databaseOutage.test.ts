import { afterAll, expect, it } from 'vitest';
import { report } from '../helpers/faults/harness.ts';
import { expectNothingLost, outageRun, stopOutageRun } from './databaseOutageRun.ts';

afterAll(stopOutageRun);

it('loses nothing when the database stays down past the invocation: the mapping retries the batch', async () => {
  // Act: the database comes back once two ingest invocations have failed for good.
  const r = await outageRun('DBDOWN', (s) => s.failedInvocations >= 2);

  // Assess
  report('database down for two whole ingest invocations', r.a, [`refused connections: ${r.refused}; ingest function errors: ${r.errors}`]);
  expect(r.errors).toBeGreaterThanOrEqual(2);
  expectNothingLost(r);
});
