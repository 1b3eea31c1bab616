import { expect, it } from 'vitest';
import type { SqlDatabase } from '#core/db/session';
import type { WarehouseStatus } from '#core/warehouse/verify';
import { directAggregate, directIncrease, generateTelemetry, insertTelemetry, storedAggregate, telemetryRow, viewIncrease, type TelemetryRow } from './warehouseFixtures.ts';

/**
 * The numbers a BI user reads (issues 16 and 9.6), asserted identically on both engines: each
 * engine's test file calls defineNumberTests with how it materializes (plain: a maintenance run;
 * TimescaleDB: the refresh jobs, then maintenance for OEE) and how it verifies.
 */
export interface NumbersEngine {
  db: SqlDatabase;
  /** The suite's clock: data is placed hours before it, OEE completes intervals against it. */
  now: Date;
  /** Everything the warehouse computes from raw rows, as its scheduler would. */
  materialize(): Promise<void>;
  verify(): Promise<WarehouseStatus>;
}

const GRAINS = { telemetry_1min: '1 minute', telemetry_1h: '1 hour', telemetry_1day: '1 day' } as const;
const VIEWS = { fact_telemetry_1min: '1 minute', fact_telemetry_1h: '1 hour', fact_telemetry_1day: '1 day' } as const;

const at = (base: Date, seconds: number): string => new Date(base.getTime() + seconds * 1000).toISOString();

const reading = telemetryRow;
const number = (source: string, fact: string, ts: string, value: number): TelemetryRow =>
  reading(source, fact, ts, { value_float: value, value_min: value, value_max: value, value_avg: value, numeric_count: 1 });
const state = (source: string, ts: string, value: string): TelemetryRow => reading(source, 'state', ts, { value_str: value, numeric_count: 0 });
const flag = (source: string, fact: string, ts: string, on: boolean): TelemetryRow =>
  reading(source, fact, ts, { value_float: on ? 1 : 0, value_bool: on, value_min: on ? 1 : 0, value_max: on ? 1 : 0, value_avg: on ? 1 : 0, numeric_count: 1 });

/** `state` readings every `every` seconds over [from, to], all `value`. */
const states = (source: string, base: Date, from: number, to: number, every: number, value: string): TelemetryRow[] =>
  Array.from({ length: Math.floor((to - from) / every) + 1 }, (_, i) => state(source, at(base, from + i * every), value));

async function addEquipment(db: SqlDatabase, rows: Array<{ source: string; runningFact?: string }>): Promise<void> {
  await db.query(
    `INSERT INTO dim_equipment (source, equipment_name, equipment_kind, ideal_rate_per_min, running_fact)
     SELECT s, 'Test unit ' || s, 'test_unit', 120, f FROM unnest($1::text[], $2::text[]) AS u (s, f)
     ON CONFLICT (source) DO NOTHING`,
    [rows.map((r) => r.source), rows.map((r) => r.runningFact ?? 'state')],
  );
}

interface OeeRow {
  source: string;
  availability_pct: number | null;
  performance_pct: number | null;
  quality_pct: number | null;
  oee_pct: number | null;
  coverage_s: number | null;
  partial: boolean | null;
  null_reason: string | null;
  equipment_name: string | null;
}

async function oeeAt(db: SqlDatabase, start: Date, sources: string[]): Promise<OeeRow[]> {
  const r4 = (c: string) => `round(${c}::numeric, 4)::float8 AS ${c}`;
  const { rows } = await db.query<OeeRow>(
    `SELECT source, ${r4('availability_pct')}, ${r4('performance_pct')}, ${r4('quality_pct')}, ${r4('oee_pct')}, ${r4('coverage_s')},
            partial, null_reason, equipment_name
     FROM fact_oee WHERE ts = $1 AND source = ANY ($2::text[]) ORDER BY source`,
    [start.toISOString(), sources],
  );
  return rows;
}

export function defineNumberTests(engine: () => NumbersEngine): void {
  /** A whole hour three hours before the suite's clock: complete, inside every refresh window. */
  const hour = () => new Date(Math.floor((engine().now.getTime() - 3 * 3_600_000) / 3_600_000) * 3_600_000);

  it('gives counters a reset-aware increase at every grain, equal to OEE units packaged, where max - min is wrong', async () => {
    // Prepare: packaged_total 100 (baseline, 10 min before the interval), then 110, 130, reset to 5,
    // 25, 40 inside the 5-minute interval S (rises 10 + 20 + 0 + 20 + 15 = 65), then after a gap of
    // two hours 1000 (a new baseline: 0) and 1010 (+10). packaged_good rises 58 in S.
    const { db } = engine();
    const unit = 'CNT_A';
    const s = new Date(hour().getTime() + 15 * 60_000);
    await addEquipment(db, [{ source: unit }]);
    const total = [
      [-600, 100],
      [10, 110],
      [70, 130],
      [130, 5],
      [190, 25],
      [250, 40],
      [7_200, 1_000],
      [7_260, 1_010],
    ] as const;
    const good = [
      [-600, 90],
      [10, 99],
      [70, 117],
      [130, 4],
      [190, 22],
      [250, 35],
    ] as const;
    await insertTelemetry(db, [
      ...total.map(([sec, v]) => number(unit, 'packaged_total', at(s, sec), v)),
      ...good.map(([sec, v]) => number(unit, 'packaged_good', at(s, sec), v)),
      ...states(unit, s, -60, 300, 60, 'fermenting'),
    ]);
    // Act
    await engine().materialize();
    // Assess: every grain's increase equals the rises of the series' readings summed per bucket
    for (const [view, width] of Object.entries(VIEWS)) {
      const expected = await directIncrease(db, width, unit, 'packaged_total');
      expect(await viewIncrease(db, view, unit, 'packaged_total'), view).toEqual(expected);
    }
    const minutes = await viewIncrease(db, 'fact_telemetry_1min', unit, 'packaged_total');
    expect(minutes.map((m) => Number(m.increase))).toEqual([0, 10, 20, 0, 20, 15, 0, 10]);
    const {
      rows: [h],
    } = await db.query<{ increase: number; spread: number }>(
      `SELECT increase, value_max - value_min AS spread FROM fact_telemetry_1h WHERE source = $1 AND fact_name = 'packaged_total' AND bucket = $2`,
      [unit, hour().toISOString()],
    );
    expect(h).toEqual({ increase: 65, spread: 125 });
    // OEE's units packaged are the same rises: performance 65 / (2/s x 300 s), quality 58 / 65
    const [oee] = await oeeAt(db, s, [unit]);
    expect(oee).toMatchObject({ availability_pct: 100, performance_pct: 10.8333, quality_pct: 89.2308, oee_pct: 9.6667, partial: false });
    const {
      rows: [sum],
    } = await db.query<{ n: number }>(
      `SELECT sum(increase)::float8 AS n FROM fact_telemetry_1min WHERE source = $1 AND fact_name = 'packaged_total' AND bucket >= $2 AND bucket < $3`,
      [unit, s.toISOString(), at(s, 300)],
    );
    expect(sum?.n).toBe(65);
    // increase is for counters only
    const { rows: others } = await db.query(`SELECT DISTINCT increase FROM fact_telemetry_1min WHERE source = $1 AND fact_name = 'state'`, [unit]);
    expect(others).toEqual([{ increase: null }]);
  });

  it('sums and averages only the numeric samples of a fact that mixes numbers and strings (numeric_count)', async () => {
    // Prepare: 2 numbers (avg 10) + 1 string in one row, a string-only row, a legacy number row (no
    // numeric_count: its sample_count), a legacy string row: 7 samples, 3 numeric, sum 24, avg 8
    const { db } = engine();
    const unit = 'MIX_A';
    const m = new Date(hour().getTime() + 60_000);
    await insertTelemetry(db, [
      reading(unit, 'line_reading', at(m, 1), { value_float: 11, value_min: 9, value_max: 11, value_avg: 10, sample_count: 3, numeric_count: 2 }),
      reading(unit, 'line_reading', at(m, 2), { value_str: 'jammed', sample_count: 2, numeric_count: 0 }),
      reading(unit, 'line_reading', at(m, 3), { value_float: 4, value_min: 4, value_max: 4, value_avg: 4, sample_count: 1 }),
      reading(unit, 'line_reading', at(m, 4), { value_str: 'ok', sample_count: 1 }),
    ]);
    // Act
    await engine().materialize();
    // Assess
    for (const [table, width] of Object.entries(GRAINS)) {
      const stored = await storedAggregate(db, table, [unit]);
      expect(stored, table).toEqual(await directAggregate(db, width, [unit]));
      expect(
        stored.map((r) => [r.sample_count, r.numeric_count, Number(r.value_sum), Number(r.value_avg)]),
        table,
      ).toEqual([[7, 3, 24, 8]]);
    }
  });

  it('never stops on extreme valid numbers: 1e308 samples and +max/-max rows roll up, every other series too, and verify stays green', async () => {
    // Prepare: two 1e308 samples and a merged +max/-max row (average 0) in one minute, one more
    // 1e308 the next minute; a counter jumping between 1e308 and -1e308; an ordinary unit beside them
    const { db } = engine();
    const big = 'BIG_A';
    const ordinary = 'ORDINARY_A';
    const m = new Date(hour().getTime() + 2 * 60_000);
    const max = Number.MAX_VALUE;
    await addEquipment(db, [{ source: big }]);
    await insertTelemetry(db, [
      number(big, 'pressure_bar', at(m, 1), 1e308),
      number(big, 'pressure_bar', at(m, 2), 1e308),
      reading(big, 'pressure_bar', at(m, 3), { value_float: -max, value_min: -max, value_max: max, value_avg: 0, sample_count: 2, numeric_count: 2 }),
      number(big, 'pressure_bar', at(m, 61), 1e308),
      number(big, 'packaged_total', at(m, 1), 1e308),
      number(big, 'packaged_total', at(m, 2), -1e308),
      number(big, 'packaged_total', at(m, 3), 1e308),
      ...states(big, m, -60, 300, 30, 'mashing'),
      ...generateTelemetry({ sources: [ordinary], from: hour(), to: new Date(hour().getTime() + 3_600_000), stepSeconds: 120 }),
    ]);
    // Act
    await engine().materialize();
    const status = await engine().verify();
    // Assess: the ordinary unit is exact at every grain
    for (const [table, width] of Object.entries(GRAINS)) {
      expect(await storedAggregate(db, table, [ordinary]), table).toEqual(await directAggregate(db, width, [ordinary]));
    }
    // the extreme series: sums beyond float8 saturate to Infinity, averages stay exact and finite
    const { rows } = await db.query<{ grain: string; sample_count: number; numeric_count: number; value_sum: number; value_avg: number; value_max: number; value_min: number }>(
      `SELECT grain, sample_count::int AS sample_count, numeric_count::int AS numeric_count, value_sum, value_avg, value_max, value_min FROM (
         SELECT '1min' AS grain, * FROM telemetry_1min WHERE bucket = $2 UNION ALL
         SELECT '1h', * FROM telemetry_1h WHERE bucket = $3) g
       WHERE source = $1 AND fact_name = 'pressure_bar' ORDER BY 1`,
      [big, m.toISOString(), hour().toISOString()],
    );
    expect(rows).toEqual([
      { grain: '1h', sample_count: 5, numeric_count: 5, value_sum: Infinity, value_avg: 6e307, value_max: max, value_min: -max },
      { grain: '1min', sample_count: 4, numeric_count: 4, value_sum: Infinity, value_avg: 5e307, value_max: max, value_min: -max },
    ]);
    const {
      rows: [rise],
    } = await db.query<{ increase: number }>(`SELECT sum(increase) AS increase FROM fact_telemetry_1h WHERE source = $1 AND fact_name = 'packaged_total'`, [big]);
    expect(rise?.increase).toBe(Infinity);
    expect(status.checks.filter((c) => c.status === 'red')).toEqual([]);
  });

  it('states OEE coverage, marks partial intervals, weights availability by time, and gives every NULL its reason', async () => {
    // Prepare: one complete interval S, units each showing one case (docs/warehouse.md, "OEE")
    const { db } = engine();
    const s = new Date(hour().getTime() + 30 * 60_000);
    const counters = (unit: string, from: number, to: number, rise: number): TelemetryRow[] => [
      number(unit, 'packaged_total', at(s, from), 1_000),
      number(unit, 'packaged_total', at(s, to), 1_000 + rise),
      number(unit, 'packaged_good', at(s, from), 900),
      number(unit, 'packaged_good', at(s, to), 900 + rise),
    ];
    const pump = (unit: string): TelemetryRow[] => Array.from({ length: 7 }, (_, i) => flag(unit, 'pump_running', at(s, -60 + i * 60), true));
    await addEquipment(db, [
      ...['OEE_FULL', 'OEE_PART', 'OEE_CHANGE', 'OEE_NOSTATE', 'OEE_NOGOOD', 'OEE_STEADY', 'OEE_NOTOTAL'].map((source) => ({ source })),
      { source: 'OEE_PUMP', runningFact: 'pump_running' },
    ]);
    await insertTelemetry(db, [
      // running all through: 120 units in 300 s at an ideal 2/s -> performance 20
      ...states('OEE_FULL', s, -30, 330, 30, 'mashing'),
      ...counters('OEE_FULL', -30, 240, 120),
      // a run that started 218 s into the interval: 82 s of data, 40 units -> 40 / (2 x 82)
      ...states('OEE_PART', s, 218, 338, 20, 'boiling'),
      ...counters('OEE_PART', 218, 298, 40),
      // reports on change only: idle at 0 s, fermenting from 10 s: 290 of 300 s, not 1 of 2 samples
      state('OEE_CHANGE', at(s, 0), 'idle'),
      state('OEE_CHANGE', at(s, 10), 'fermenting'),
      state('OEE_CHANGE', at(s, 600), 'idle'),
      // no state: no availability (no fallback to the pump); configured to run on its pump: 100 %
      ...pump('OEE_NOSTATE'),
      ...counters('OEE_NOSTATE', -30, 240, 60),
      ...pump('OEE_PUMP'),
      ...counters('OEE_PUMP', -30, 240, 60),
      // packaged_total but no packaged_good: quality unknown, so OEE unknown (not quality 100 %)
      ...states('OEE_NOGOOD', s, -30, 330, 30, 'mashing'),
      number('OEE_NOGOOD', 'packaged_total', at(s, -30), 10),
      number('OEE_NOGOOD', 'packaged_total', at(s, 240), 70),
      // counters reporting on change, unchanged since 20 minutes: nothing packaged while running
      ...states('OEE_STEADY', s, -30, 330, 30, 'mashing'),
      number('OEE_STEADY', 'packaged_total', at(s, -1_200), 500),
      number('OEE_STEADY', 'packaged_good', at(s, -1_200), 480),
      // no counter at all
      ...states('OEE_NOTOTAL', s, -30, 330, 30, 'mashing'),
      // not in dim_equipment: no ideal rate
      ...states('OEE_NORATE', s, -30, 330, 30, 'mashing'),
      ...counters('OEE_NORATE', -30, 240, 60),
    ]);
    // Act
    await engine().materialize();
    // Assess
    const unitName = (source: string) => (source === 'OEE_NORATE' ? null : `Test unit ${source}`);
    const expected: Array<Omit<OeeRow, 'equipment_name'>> = [
      {
        source: 'OEE_CHANGE',
        availability_pct: 96.6667,
        performance_pct: null,
        quality_pct: null,
        oee_pct: null,
        coverage_s: 300,
        partial: false,
        null_reason: 'no_packaged_total',
      },
      { source: 'OEE_FULL', availability_pct: 100, performance_pct: 20, quality_pct: 100, oee_pct: 20, coverage_s: 300, partial: false, null_reason: null },
      { source: 'OEE_NOGOOD', availability_pct: 100, performance_pct: 10, quality_pct: null, oee_pct: null, coverage_s: 300, partial: false, null_reason: 'no_packaged_good' },
      { source: 'OEE_NORATE', availability_pct: 100, performance_pct: null, quality_pct: 100, oee_pct: null, coverage_s: 300, partial: false, null_reason: 'no_ideal_rate' },
      { source: 'OEE_NOSTATE', availability_pct: null, performance_pct: null, quality_pct: 100, oee_pct: null, coverage_s: 0, partial: true, null_reason: 'no_running_data' },
      { source: 'OEE_NOTOTAL', availability_pct: 100, performance_pct: null, quality_pct: null, oee_pct: null, coverage_s: 300, partial: false, null_reason: 'no_packaged_total' },
      { source: 'OEE_PART', availability_pct: 100, performance_pct: 24.3902, quality_pct: 100, oee_pct: 24.3902, coverage_s: 82, partial: true, null_reason: null },
      { source: 'OEE_PUMP', availability_pct: 100, performance_pct: 10, quality_pct: 100, oee_pct: 10, coverage_s: 300, partial: false, null_reason: null },
      { source: 'OEE_STEADY', availability_pct: 100, performance_pct: 0, quality_pct: null, oee_pct: 0, coverage_s: 300, partial: false, null_reason: 'nothing_packaged' },
    ];
    expect(
      await oeeAt(
        db,
        s,
        expected.map((e) => e.source),
      ),
    ).toEqual(expected.map((e) => ({ ...e, equipment_name: unitName(e.source) })));
  });

  it('exposes value_sum, numeric_count and last_ts in every fact view, equal to its grain', async () => {
    const { db } = engine();
    const unit = 'VIEW_A';
    await insertTelemetry(db, generateTelemetry({ sources: [unit], from: hour(), to: new Date(hour().getTime() + 600_000), stepSeconds: 60 }));
    await engine().materialize();
    for (const [view, table] of [
      ['fact_telemetry_1min', 'telemetry_1min'],
      ['fact_telemetry_1h', 'telemetry_1h'],
      ['fact_telemetry_1day', 'telemetry_1day'],
    ]) {
      const cols = 'bucket, source, fact_name, sample_count, numeric_count, value_sum, value_avg, last_value, last_ts';
      const { rows: fromView } = await db.query(`SELECT ${cols}, equipment_name FROM ${view} WHERE source = $1 ORDER BY bucket, fact_name`, [unit]);
      const { rows: fromGrain } = await db.query(`SELECT ${cols}, NULL AS equipment_name FROM ${table} WHERE source = $1 ORDER BY bucket, fact_name`, [unit]);
      expect(fromView.length, view).toBeGreaterThan(0);
      expect(fromView, view).toEqual(fromGrain);
    }
  });
}
