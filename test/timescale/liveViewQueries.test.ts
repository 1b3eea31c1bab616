import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { ingestDelay, latestOee, recentDerived, recentRollups } from '../../local/live/warehouseQueries.ts';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import { generateTelemetry, hoursAgo, insertTelemetry } from './warehouseFixtures.ts';

// The dashboard reads a deployed warehouse too: its queries must hold on TimescaleDB, where the
// rollups are continuous aggregates and telemetry_events a hypertable.
let tsdb: TimescaleTestDb;
const now = Date.now();

beforeAll(async () => {
  tsdb = await startTimescale();
  await migrate(tsdb.db, await readMigrations('migrations'));
  await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['LV_A', 'LV_B'], from: hoursAgo(2, now), to: new Date(now), stepSeconds: 20 }));
  await tsdb.db.query(`CALL refresh_continuous_aggregate('telemetry_1min', NULL, NULL)`);
});
afterAll(async () => {
  await tsdb?.close();
});

describe('the dashboard queries on TimescaleDB', () => {
  it('rollups: the last hour of telemetry_1min before its newest bucket, every series, oldest first', async () => {
    const rows = await recentRollups(tsdb.db, 60);
    const newest = Math.max(...rows.map((r) => r.point[0]));
    expect(new Set(rows.map((r) => r.key))).toEqual(
      new Set(['LV_A', 'LV_B'].flatMap((s) => ['temperature_c', 'pump_running', 'state', 'packaged_total', 'packaged_good'].map((f) => `${s}/${f}`))),
    );
    expect(Math.min(...rows.map((r) => r.point[0]))).toBe(newest - 60 * 60_000);
    expect(rows.map((r) => r.point[0])).toEqual([...rows.map((r) => r.point[0])].sort((a, b) => a - b));

    // One bucket against the raw rows it rolls up.
    const bucket = rows.find((r) => r.key === 'LV_A/temperature_c' && r.point[0] === newest - 30 * 60_000)!;
    const { rows: raw } = await tsdb.db.query<{ n: number; lo: number; hi: number }>(
      `SELECT sum(sample_count)::float8 AS n, min(value_min) AS lo, max(value_max) AS hi FROM telemetry_events
        WHERE source = 'LV_A' AND fact_name = 'temperature_c' AND ts >= $1::timestamptz AND ts < $1::timestamptz + INTERVAL '1 minute'`,
      [new Date(bucket.point[0]).toISOString()],
    );
    expect(bucket.point.slice(2, 5)).toEqual([raw[0]!.lo, raw[0]!.hi, raw[0]!.n]);
  });

  it('ingest delay: per minute of event time, the samples stored and how long they took', async () => {
    const delay = await ingestDelay(tsdb.db, 30);
    expect(delay.length).toBeGreaterThanOrEqual(30);
    expect(delay.length).toBeLessThanOrEqual(31);
    const { rows } = await tsdb.db.query<{ n: number }>(
      `SELECT sum(sample_count)::float8 AS n FROM telemetry_events WHERE ts >= $1::timestamptz AND ts < $1::timestamptz + INTERVAL '1 minute'`,
      [new Date(delay[5]![0]).toISOString()],
    );
    expect(delay[5]![3]).toBe(rows[0]!.n);
    // Rows were inserted just now for event times up to two hours back.
    for (const [, avg, max] of delay) expect(max).toBeGreaterThanOrEqual(avg);
  });

  it('events and OEE: the newest rule firings and anomalies oldest first, and the newest snapshot per unit', async () => {
    for (let i = 0; i < 4; i++) {
      await tsdb.db.query(`INSERT INTO rule_events (event_id, ts, source, rule_id, rules_version) VALUES ($1, $2, 'LV_A', 'r', '1')`, [
        `r${i}`,
        new Date(now - i * 60_000).toISOString(),
      ]);
      await tsdb.db.query(`INSERT INTO anomaly_events (event_id, ts, source, fact_name, value, ema, sigma) VALUES ($1, $2, 'LV_B', 'temperature_c', 95, 65, 3.2)`, [
        `a${i}`,
        new Date(now - i * 60_000 - 30_000).toISOString(),
      ]);
    }
    const events = await recentDerived(tsdb.db, 3);
    expect(events.map((e) => e.id)).toEqual(['r1', 'a0', 'r0']);
    expect(events[1]).toEqual({ kind: 'anomaly', id: 'a0', ts: expect.any(String), source: 'LV_B', fact: 'temperature_c', value: 95, ema: 65, sigma: 3.2 });

    for (const [source, minutesAgo, oee] of [
      ['LV_A', 10, 50],
      ['LV_A', 5, 60],
      ['LV_B', 10, 70],
    ] as const) {
      await tsdb.db.query(`INSERT INTO oee_snapshots (ts, source, availability_pct, performance_pct, quality_pct, oee_pct) VALUES ($1, $2, 80, 90, NULL, $3)`, [
        new Date(now - minutesAgo * 60_000).toISOString(),
        source,
        oee,
      ]);
    }
    const units = await latestOee(tsdb.db);
    expect(units.map((u) => [u.source, u.oee, u.quality])).toEqual([
      ['LV_A', 60, null],
      ['LV_B', 70, null],
    ]);
  });
});
