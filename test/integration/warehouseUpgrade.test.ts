import { describe, expect, it } from 'vitest';
import { runMaintenance } from '#core/warehouse/maintenance';
import { databaseBefore } from '../helpers/upgrade.ts';
import { directAggregate, generateTelemetry, hoursAgo, insertTelemetry, storedAggregate } from '../timescale/warehouseFixtures.ts';

// Upgrading a plain PostgreSQL database whose rollup tables hold rows (0008 adds columns).
const upgrade = databaseBefore('0007');
const NOW = new Date();

describe('plain PostgreSQL upgrade to the v2 rollups', () => {
  it('keeps rows without raw input, fills numeric_count, and recomputes every bucket that still has raw rows', async () => {
    const db = upgrade.db();
    // Prepare: recent raw rows, and rollup rows as the old maintenance wrote them: one 20 days back
    // (its raw rows long gone), one for a recent minute with the old, string-counting sum
    await insertTelemetry(db, generateTelemetry({ sources: ['UP_A'], from: hoursAgo(2, NOW.getTime()), to: hoursAgo(1, NOW.getTime()), stepSeconds: 60 }));
    await db.query(
      `INSERT INTO telemetry_1min (bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max, last_value, last_str, last_ts)
       VALUES (date_trunc('minute', $1::timestamptz - INTERVAL '20 days'), 'UP_OLD', 'ph', 4, 22, 5.5, 5, 6, 6, NULL, $1::timestamptz - INTERVAL '20 days'),
              (date_trunc('minute', $1::timestamptz - INTERVAL '20 days') + INTERVAL '1 minute', 'UP_OLD', 'state', 3, NULL, NULL, NULL, NULL, NULL, 'idle', $1::timestamptz - INTERVAL '20 days'),
              (date_trunc('minute', $1::timestamptz - INTERVAL '90 minutes'), 'UP_A', 'temperature_c', 99, 1, 1, 1, 1, 1, NULL, $1::timestamptz - INTERVAL '90 minutes')`,
      [NOW.toISOString()],
    );
    // Act
    await upgrade.migrateAll();
    const kept = await db.query(`SELECT fact_name, sample_count::int, numeric_count::int, value_sum FROM telemetry_1min WHERE source = 'UP_OLD' ORDER BY bucket`);
    await runMaintenance(db, { now: NOW });
    // Assess
    expect(kept.rows).toEqual([
      { fact_name: 'ph', sample_count: 4, numeric_count: 4, value_sum: 22 },
      { fact_name: 'state', sample_count: 3, numeric_count: 0, value_sum: null },
    ]);
    expect((await db.query(`SELECT count(*)::int AS n FROM telemetry_1min WHERE source = 'UP_OLD'`)).rows).toEqual([{ n: 2 }]);
    for (const [table, width] of [
      ['telemetry_1min', '1 minute'],
      ['telemetry_1h', '1 hour'],
      ['telemetry_1day', '1 day'],
    ] as const) {
      expect(await storedAggregate(db, table, ['UP_A']), table).toEqual(await directAggregate(db, width, ['UP_A']));
    }
  });
});
