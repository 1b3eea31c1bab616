import { afterAll, expect, it } from 'vitest';
import { report } from '../helpers/faults/harness.ts';
import { expectNothingLost, outageRun, stopOutageRun } from './databaseOutageRun.ts';

afterAll(stopOutageRun);

it('absorbs a short database outage inside the invocation: retries with backoff, no function error', async () => {
  // Act: the database comes back after three refused connections.
  const r = await outageRun('DBBLIP', (s) => s.refusedConnections >= 3);

  // Assess
  report('database refuses 3 connections during ingest', r.a, [`refused connections: ${r.refused}; ingest function errors: ${r.errors}`]);
  expect(r.refused).toBeGreaterThanOrEqual(3);
  expect(r.errors).toBe(0);
  expectNothingLost(r);
});
