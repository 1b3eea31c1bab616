import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import type { Rows, SqlDatabase } from '#core/db/session';
import { runMaintenance } from '#core/warehouse/maintenance';
import { generateTelemetry, insertTelemetry } from '../timescale/warehouseFixtures.ts';

/**
 * The Grafana dashboard (grafana/dashboards/tapline.json) as a test contract: every panel's SQL
 * and every variable's query, exactly as stored in the JSON, run against a migrated and seeded
 * warehouse as the read-only role, on whichever engine the calling test file starts.
 */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARD_PATH = join(projectRoot, 'grafana/dashboards/tapline.json');

export interface Dashboard {
  uid: string;
  templating: { list: Array<{ name: string; query: string; datasource: { type: string; uid: string } }> };
  panels: Array<{ id: number; title: string; datasource: { type: string; uid: string }; targets: Array<{ rawSql: string; format: string; datasource: { uid: string } }> }>;
}
export const readDashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;

/** Columns each panel must return (Grafana maps them by name: `time`, `metric`, values). */
export const PANEL_COLUMNS: Record<string, string[]> = {
  '$fact per unit, 1-minute average': ['time', 'metric', 'value_avg'],
  '$fact per unit, hourly min / avg / max': ['time', 'metric', 'value_min', 'value_avg', 'value_max'],
  'Samples per minute': ['time', 'samples'],
  'Ingest delay (ingested_at - ts)': ['time', 'avg_delay_s', 'max_delay_s'],
  'Outbox backlog': ['pending', 'oldest_s'],
  'OEE per unit (5-minute intervals)': ['time', 'metric', 'oee_pct'],
  'OEE factors, latest interval per unit': ['source', 'time', 'availability_pct', 'performance_pct', 'quality_pct', 'oee_pct'],
  'Rule firings per hour': ['time', 'metric', 'firings'],
  'Rule events': ['time', 'source', 'rule_id', 'rules_version'],
  Anomalies: ['time', 'source', 'fact_name', 'value', 'ema', 'sigma'],
};

export interface GrafanaScope {
  from: Date;
  to: Date;
  /** Variable values as Grafana holds them (a multi-value variable has several). */
  variables: Record<string, string[]>;
}

const quote = (v: string): string => `'${v.replaceAll("'", "''")}'`;

/**
 * What Grafana's PostgreSQL data source sends for the macros and variables the dashboard uses:
 * `$__timeFilter(col)` becomes `col BETWEEN '<from>' AND '<to>'`, a multi-value variable its
 * quoted values joined by commas, a single-value one its raw value. Anything else starting with
 * `$` is refused, so a new macro cannot slip into the dashboard untested.
 */
export function expandMacros(sql: string, scope: GrafanaScope, multi: ReadonlySet<string>): string {
  const out = sql
    .replace(/\$__timeFilter\(([a-z_]+)\)/g, (_m, col: string) => `${col} BETWEEN ${quote(scope.from.toISOString())} AND ${quote(scope.to.toISOString())}`)
    .replace(/\$([a-z_]+)\b/g, (m, name: string) => {
      const values = scope.variables[name];
      if (!values) return m;
      return multi.has(name) ? values.map(quote).join(',') : (values[0] ?? '');
    });
  const leftover = out.match(/\$[\w{]+/);
  if (leftover) throw new Error(`unknown Grafana macro or variable ${leftover[0]} in: ${sql}`);
  return out;
}

/** Runs one statement as the role Grafana logs in as, inside a transaction that is never kept. */
export async function asReader(db: SqlDatabase, sql: string): Promise<Rows> {
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL ROLE tapline_reader');
    return (await tx.query(sql)).rows;
  });
}

/** Two units for two hours: telemetry (merged rows, states, counters), rule and anomaly events, one pending outbox event. */
async function seed(db: SqlDatabase, now: Date): Promise<void> {
  const rows = generateTelemetry({ sources: ['FBE_01', 'FBE_02'], from: new Date(now.getTime() - 2 * 3_600_000), to: new Date(now.getTime() - 300_000), stepSeconds: 30 });
  await insertTelemetry(db, rows);
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
  await db.query(
    `INSERT INTO rule_events (event_id, ts, source, rule_id, rules_version)
     VALUES ('r1', $1, 'FBE_01', 'over_temperature', 'v1'), ('r2', $2, 'FBE_02', 'pump_dry_run', 'v1')`,
    [at(90), at(30)],
  );
  await db.query(`INSERT INTO anomaly_events (event_id, ts, source, fact_name, value, ema, sigma) VALUES ('a1', $1, 'FBE_01', 'temperature_c', 95, 65, 2.1)`, [at(45)]);
  await db.query(`INSERT INTO outbox (destination, message_id, body, created_at) VALUES ('events', 'o1', '{}', $1)`, [at(1)]);
  // Partitions and rollups on plain PostgreSQL, OEE on both.
  await runMaintenance(db, { now });
}

/** The dashboard contract on one engine: `start` returns a fresh, unmigrated database. */
export function dashboardContract(engine: string, start: () => Promise<{ db: SqlDatabase; close(): Promise<void> }>): void {
  describe(`the Grafana dashboard on ${engine}`, () => {
    let handle: { db: SqlDatabase; close(): Promise<void> };
    const dashboard = readDashboard();
    const now = new Date();
    const scope: GrafanaScope = { from: new Date(now.getTime() - 3 * 3_600_000), to: now, variables: {} };
    const multi = new Set(['unit']);

    const variableValues: Record<string, string[]> = {};

    beforeAll(async () => {
      handle = await start();
      await migrate(handle.db, await readMigrations('migrations'));
      await seed(handle.db, now);
      // Grafana runs the variable queries first; "All" units and the default fact are what a viewer starts with.
      for (const v of dashboard.templating.list) {
        variableValues[v.name] = (await asReader(handle.db, v.query)).map((r) => String(Object.values(r)[0]));
      }
      scope.variables = { unit: variableValues.unit ?? [], fact: ['temperature_c'] };
    });
    afterAll(async () => handle?.close());

    it('fills its variables from the dimension tables, as the read-only role', () => {
      expect(Object.keys(variableValues).sort()).toEqual(['fact', 'unit']);
      expect(variableValues.unit).toEqual(expect.arrayContaining(['FBE_01', 'FBE_02']));
      expect(variableValues.fact).toContain('temperature_c');
      expect(variableValues.fact).not.toContain('state');
    });

    it.each(Object.keys(PANEL_COLUMNS))('panel "%s" runs as stored and returns its columns', async (title) => {
      // Prepare
      const panel = dashboard.panels.find((p) => p.title === title);
      const target = panel?.targets[0];
      if (!target) throw new Error(`no panel "${title}"`);

      // Act
      const rows = await asReader(handle.db, expandMacros(target.rawSql, scope, multi));

      // Assess
      expect(rows.length, 'rows').toBeGreaterThan(0);
      expect(Object.keys(rows[0] ?? {})).toEqual(PANEL_COLUMNS[title]);
      if (PANEL_COLUMNS[title]?.includes('time')) {
        for (const row of rows) expect(Number.isNaN(Date.parse(String(row.time))), String(row.time)).toBe(false);
      }
    });

    it('has a column contract for every panel, and nothing more', () => {
      expect(dashboard.panels.map((p) => p.title).sort()).toEqual(Object.keys(PANEL_COLUMNS).sort());
    });

    it('cannot change anything as the read-only role', async () => {
      const error = await asReader(handle.db, "DELETE FROM rule_events WHERE event_id = 'r1'").then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
      expect(error).toBe('42501'); // insufficient_privilege
    });
  });
}
