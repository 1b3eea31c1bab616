import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runMaintenance } from '#core/warehouse/maintenance';
import { setRetention } from '#core/warehouse/retention';
import { collectWarehouseStatus } from '#core/warehouse/verify';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { directAggregate, generateTelemetry, insertTelemetry, noonUtc, saveRetention, storedAggregate, telemetryRow, type AggregateRow } from '../timescale/warehouseFixtures.ts';

// Retention changes on plain PostgreSQL, on a database of their own (they drop partitions). The
// clock is explicit: noon UTC of the day the suite starts, so "days ago" never straddles a
// midnight by accident; every test puts warehouse_retention back (keep_days and dropped_before).
let pg: MigratedPostgres;
const NOW = noonUtc(0);
const hoursBefore = (h: number, from = NOW) => new Date(from.getTime() - h * 3_600_000);
const maintain = (now = NOW) => runMaintenance(pg.db, { now });
const GRAINS = ['telemetry_1min', 'telemetry_1h', 'telemetry_1day'] as const;
const aggregates = (source: string): Promise<AggregateRow[][]> => Promise.all(GRAINS.map((t) => storedAggregate(pg.db, t, [source])));
const count = async (sql: string, params: unknown[] = []) => (await pg.db.query<{ n: number }>(sql, params)).rows[0]?.n;
const utcDay = (offsetDays: number, from = NOW) => new Date(from.getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
let restoreRetention: () => Promise<void>;

beforeAll(async () => {
  pg = await startMigratedPostgres();
  restoreRetention = await saveRetention(pg.db);
});
afterEach(async () => {
  await restoreRetention();
  await maintain(); // partitions back for the whole retention
});
afterAll(async () => {
  await pg?.stop();
});

describe('plain PostgreSQL retention changes', () => {
  it('keeps every rollup row whose raw rows were dropped when raw retention goes to 1 day and back to 7, even when a late row comes for them', async () => {
    // Prepare: RET_A 2.5 days back, rolled up under the default 7 days
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['RET_A'], from: hoursBefore(62), to: hoursBefore(60), stepSeconds: 60 }));
    await maintain();
    const before = await aggregates('RET_A');
    expect(before[0]).toEqual(await directAggregate(pg.db, '1 minute', ['RET_A']));
    // Act: npm run retention -- --days 1, maintenance (drops the partitions), --days 7, maintenance
    await setRetention(pg.db, 'raw', 1, { now: NOW });
    await maintain();
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'RET_A'`)).toBe(0);
    await setRetention(pg.db, 'raw', 7, { now: NOW });
    await maintain();
    // Act: a late row for one of those minutes (an ingest that accepted it), then maintenance
    await insertTelemetry(pg.db, [
      telemetryRow('RET_A', 'temperature_c', hoursBefore(61).toISOString(), {
        value_float: 150,
        sample_count: 1,
        value_min: 150,
        value_max: 150,
        value_avg: 150,
        event_id: 'late',
      }),
    ]);
    await maintain();
    // Assess: nothing of RET_A's aggregates changed; ingest would have refused the row
    expect(await aggregates('RET_A')).toEqual(before);
    const {
      rows: [h],
    } = await pg.db.query<{ refused: boolean }>(`SELECT $2::timestamptz < warehouse_ingest_horizon($1) AS refused`, [NOW.toISOString(), hoursBefore(61).toISOString()]);
    expect(h?.refused).toBe(true);
  });

  it('does not recompute an hour or a day from 1min rows that a shorter 1min retention deleted', async () => {
    // Prepare: RET_B around "3 days ago" (09:00 to 15:00 UTC), rolled up under the defaults
    const threeDays = hoursBefore(72);
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['RET_B'], from: hoursBefore(3, threeDays), to: hoursBefore(-3, threeDays), stepSeconds: 60 }));
    await maintain();
    const [, , dayBefore] = await aggregates('RET_B');
    // Act: raw and 1min to 3 days (maintenance deletes 1min rows before 09:00+3h = 12:00), 1min back to 30
    await setRetention(pg.db, 'raw', 3, { now: NOW });
    await setRetention(pg.db, '1min', 3, { now: NOW });
    await maintain();
    await setRetention(pg.db, '1min', 30, { now: NOW });
    // Act: a late raw row at 14:01 that day, inside the raw retention: its minute and hour are complete
    const late = hoursBefore(-2.02, threeDays).toISOString();
    await insertTelemetry(pg.db, [
      telemetryRow('RET_B', 'temperature_c', late, { value_float: 150, sample_count: 1, value_min: 150, value_max: 150, value_avg: 150, event_id: 'late' }),
    ]);
    await maintain();
    // Assess: the late row reached 1min and its hour; the day, whose morning 1min rows are gone, kept its row
    const [minutes, hours, day] = await aggregates('RET_B');
    expect(minutes?.find((m) => m.bucket === `${late.slice(0, 16)}:00.000000` && m.fact_name === 'temperature_c')?.value_max).toBe('150.000000000');
    const lateHour = `${late.slice(0, 13)}:00:00.000000`;
    const direct = (await directAggregate(pg.db, '1 hour', ['RET_B'])).filter((r) => r.bucket === lateHour);
    expect(hours?.filter((r) => r.bucket === lateHour)).toEqual(direct);
    expect(day).toEqual(dayBefore);
  });

  it('drops whole-day partitions past retention and keeps their rollups', async () => {
    // Prepare: RET_C five days back, rolled up under the default 7-day retention
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['RET_C'], from: hoursBefore(121), to: hoursBefore(119), stepSeconds: 60 }));
    await maintain();
    const before = await aggregates('RET_C');
    expect(before[0]).toEqual(await directAggregate(pg.db, '1 minute', ['RET_C']));
    const { rows: parts } = await pg.db.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry_events'::regclass`,
    );
    const past = parts.filter((p) => /^telemetry_events_p\d{8}$/.test(p.relname) && p.relname < `telemetry_events_p${utcDay(-3)}`).length;
    // Act: npm run retention -- --days 3, then the next maintenance run
    await setRetention(pg.db, 'raw', 3, { now: NOW });
    const report = await maintain();
    // Assess: the days wholly before now - 3 days went (the one holding now - 3 days stays)
    expect(report.partitions?.dropped).toBe(past);
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'RET_C'`)).toBe(0);
    expect(await aggregates('RET_C')).toEqual(before);
  });

  it('moves rows out of the default partition when it creates their day', async () => {
    // Prepare: rows five days ahead, beyond the partitions created so far, land in the default
    const ahead = new Date(NOW.getTime() + 5 * 86_400_000);
    const rows = generateTelemetry({ sources: ['RET_D'], from: ahead, to: new Date(ahead.getTime() + 600_000), stepSeconds: 60 });
    await insertTelemetry(pg.db, rows);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events_default')).toBe(rows.length);
    const warned = await collectWarehouseStatus(pg.db, { now: NOW });
    expect(warned.checks.find((c) => c.name === 'default partition')?.status).toBe('warn');
    // Act: maintenance three days later creates partitions through day +6
    const report = await maintain(new Date(NOW.getTime() + 3 * 86_400_000));
    // Assess
    expect(report.partitions?.movedFromDefault).toBe(rows.length);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events_default')).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_events_p${utcDay(5)}`)).toBe(rows.length);
  });
});
