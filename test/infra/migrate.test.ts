import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '#core/db/connect';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { SESSION_LIMITS } from '#core/db/sessionLimits';
import { migrationHandler, READER_ROLE } from '../../functions/migrate/migrateOnDeploy.ts';
import { startPostgres, type LocalPostgres } from '../../local/services/postgres.ts';

const event = (requestType: 'Create' | 'Update' | 'Delete', appUser: string): CloudFormationCustomResourceEvent =>
  ({
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/tapline-dev/1',
    RequestId: `req-${requestType}`,
    LogicalResourceId: 'MigrationsResource',
    ResourceType: 'Custom::TaplineMigrations',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider', MigrationsHash: 'abc', AppUser: appUser },
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'tapline-schema', OldResourceProperties: {} }),
  }) as CloudFormationCustomResourceEvent;

describe('the deploy-time migration handler', () => {
  let server: LocalPostgres;
  let inspect: Database;
  const handlerOn = (database: string) =>
    migrationHandler({
      connect: () => connectDatabase(readEnv({ DATABASE_URL: server.url.replace(/\/[^/]+$/, `/${database}`) })),
      loadMigrations: () => readMigrations('migrations'),
    });
  const owner = async (table: string, database: string): Promise<string | undefined> => {
    const db = await connectDatabase(readEnv({ DATABASE_URL: server.url.replace(/\/[^/]+$/, `/${database}`) }));
    try {
      const { rows } = await db.query<{ owner: string }>('SELECT tableowner AS owner FROM pg_tables WHERE tablename = $1', [table]);
      return rows[0]?.owner;
    } finally {
      await db.end();
    }
  };

  const readerPrivileges = async (database: string): Promise<{ select: boolean; insert: boolean }> => {
    const db = await connectDatabase(readEnv({ DATABASE_URL: server.url.replace(/\/[^/]+$/, `/${database}`) }));
    try {
      const { rows } = await db.query<{ select: boolean; insert: boolean }>(
        `SELECT has_table_privilege($1, 'telemetry_1min', 'SELECT') AS select, has_table_privilege($1, 'telemetry_1min', 'INSERT') AS insert`,
        [READER_ROLE],
      );
      return rows[0] ?? { select: false, insert: false };
    } finally {
      await db.end();
    }
  };

  beforeAll(async () => {
    server = await startPostgres();
    inspect = await connectDatabase(readEnv({ DATABASE_URL: server.url }));
    // RDS for PostgreSQL ships this role; the embedded server stands in for RDS here.
    for (const statement of ['CREATE ROLE rds_iam', 'CREATE DATABASE rds_like', 'CREATE DATABASE external_like']) await inspect.exec(statement);
  });

  afterAll(async () => {
    await inspect?.end();
    await server?.stop();
  });

  it('on RDS creates the IAM login role and applies every plain-PostgreSQL migration as that role', async () => {
    // Prepare
    const migrateOnDeploy = handlerOn('rds_like');
    const all = await readMigrations('migrations');
    const plain = all.filter((m) => !m.name.endsWith('.timescale.sql'));

    // Act
    const response = await migrateOnDeploy(event('Create', 'tapline_app'));

    // Assess
    expect(response).toEqual({
      PhysicalResourceId: 'tapline-schema',
      Data: { Engine: 'plain', Applied: String(plain.length), Skipped: '0' },
    });
    const { rows } = await inspect.query<{ login: boolean; iam: boolean; config: string[] }>(
      `SELECT r.rolcanlogin AS login, pg_has_role(r.oid, 'rds_iam', 'MEMBER') AS iam, r.rolconfig AS config FROM pg_roles r WHERE r.rolname = 'tapline_app'`,
    );
    // The session limits ride on the role: behind RDS Proxy the functions send no session settings.
    expect(rows).toEqual([{ login: true, iam: true, config: Object.entries(SESSION_LIMITS).map(([name, ms]) => `${name}=${ms}`) }]);
    expect(await owner('telemetry_events', 'rds_like')).toBe('tapline_app');
    expect(await owner('schema_migrations', 'rds_like')).toBe('tapline_app');
    // The app role may not create roles: the deploy made the reader role, the migration granted to it.
    expect(await readerPrivileges('rds_like')).toEqual({ select: true, insert: false });
  });

  it('on an update with no new migration applies nothing and keeps the role', async () => {
    // Prepare
    const migrateOnDeploy = handlerOn('rds_like');

    // Act
    const response = await migrateOnDeploy(event('Update', 'tapline_app'));

    // Assess
    expect(response.PhysicalResourceId).toBe('tapline-schema');
    expect(response.Data?.Applied).toBe('0');
    expect(Number(response.Data?.Skipped)).toBeGreaterThan(0);
  });

  it('on delete leaves the schema and its data in place', async () => {
    // Prepare
    const migrateOnDeploy = handlerOn('rds_like');

    // Act
    const response = await migrateOnDeploy(event('Delete', 'tapline_app'));

    // Assess
    expect(response).toEqual({ PhysicalResourceId: 'tapline-schema' });
    expect(await owner('telemetry_events', 'rds_like')).toBe('tapline_app');
  });

  it('on an external database applies the migrations as the connecting user', async () => {
    // Prepare
    const migrateOnDeploy = handlerOn('external_like');

    // Act
    const response = await migrateOnDeploy(event('Create', ''));

    // Assess
    expect(response.Data?.Skipped).toBe('0');
    expect(Number(response.Data?.Applied)).toBeGreaterThan(0);
    expect(await owner('telemetry_events', 'external_like')).toBe('tapline');
  });

  it('refuses a role name that is not a plain identifier', async () => {
    // Prepare
    const migrateOnDeploy = handlerOn('rds_like');

    // Act + Assess
    await expect(migrateOnDeploy(event('Update', 'app"; DROP TABLE telemetry_events; --'))).rejects.toThrow(/invalid app role name/);
    expect(await owner('telemetry_events', 'rds_like')).toBe('tapline_app');
  });
});
