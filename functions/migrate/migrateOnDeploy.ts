import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { Database } from '#core/db/connect';
import { migrate, type Migration, type MigrationReport } from '#core/db/migrate';
import type { SqlDatabase } from '#core/db/session';
import { SESSION_LIMITS } from '#core/db/sessionLimits';

/** What the custom resource passes in (infra/constructs/migrations.ts). */
export interface MigrationProperties {
  /** Changes whenever a migration file changes, so CloudFormation sends an Update. */
  MigrationsHash: string;
  /** rds mode: the IAM-auth login role of the functions; empty elsewhere. */
  AppUser: string;
}

export interface MigrateDependencies {
  /** Opens a pool as the database owner (RDS master secret, external secret or DATABASE_URL). */
  connect(): Promise<Database>;
  loadMigrations(): Promise<Migration[]>;
}

/** The Provider framework's onEvent contract. */
export interface ProviderResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

export class MigrationRequestError extends Error {
  override readonly name = 'MigrationRequestError';
}

// One resource per stack; a stable id keeps CloudFormation from issuing a Delete on every Update.
const PHYSICAL_ID = 'tapline-schema';
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/**
 * The read-only role of migrations/0011_reader_role.sql (Grafana, BI). That migration creates it
 * where the migrating role may create roles; on RDS the migration acts as the app role, which may
 * not, so the deploy creates it first, as the master user.
 */
export const READER_ROLE = 'tapline_reader';

/** `ALTER ROLE ... SET` for every session limit (values are integers in milliseconds, from a constant). */
const roleDefaults = (quoted: string): string =>
  Object.entries(SESSION_LIMITS)
    .map(([name, ms]) => `ALTER ROLE ${quoted} SET ${name} = ${ms};`)
    .join('\n  ');

/**
 * Creates the functions' login role for RDS Proxy end-to-end IAM auth, idempotently:
 * `rds_iam` makes PostgreSQL accept IAM tokens for it (and only those), and membership for the
 * current (master) user lets the migration act as it, so the schema belongs to the role that
 * maintenance later extends with partitions and rollups. Also creates the read-only role the
 * migrations grant to (READER_ROLE), which the app role may not create.
 */
export async function ensureAppRole(db: SqlDatabase, role: string): Promise<void> {
  if (!IDENTIFIER.test(role)) throw new MigrationRequestError(`invalid app role name "${role}"`);
  const { rows } = await db.query<{ present: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') AS present");
  if (!rows[0]?.present) throw new MigrationRequestError('role rds_iam does not exist: AppUser is only for RDS for PostgreSQL');
  // The name is checked against IDENTIFIER above, so quoting it as an identifier is safe.
  const quoted = `"${role}"`;
  await db.exec(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${quoted} LOGIN; END IF;
  END $$;
  GRANT rds_iam TO ${quoted};
  GRANT ${quoted} TO CURRENT_USER;
  GRANT USAGE, CREATE ON SCHEMA public TO ${quoted};
  -- The functions reach the database through RDS Proxy, where they send no session settings
  -- (SET or startup options could pin a connection): the role carries the session limits.
  ${roleDefaults(quoted)}
  DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${READER_ROLE}') THEN CREATE ROLE "${READER_ROLE}" LOGIN; END IF;
  END $$;`);
}

/**
 * Runs every statement as `role` with SET LOCAL ROLE inside its own transaction: the role reverts at
 * COMMIT, so no pooled connection keeps it, and every object created belongs to `role`.
 */
export function actingAs(db: SqlDatabase, role: string): SqlDatabase {
  if (!IDENTIFIER.test(role)) throw new MigrationRequestError(`invalid role name "${role}"`);
  const become = `SET LOCAL ROLE "${role}"`;
  return {
    query: (text, params) =>
      db.transaction(async (tx) => {
        await tx.exec(become);
        return tx.query(text, params);
      }),
    exec: (script) =>
      db.transaction(async (tx) => {
        await tx.exec(become);
        await tx.exec(script);
      }),
    batch: (statements) =>
      db.transaction(async (tx) => {
        await tx.exec(become);
        return tx.batch(statements);
      }),
    copyFrom: (statement, data) =>
      db.transaction(async (tx) => {
        await tx.exec(become);
        await tx.copyFrom(statement, data);
      }),
    transaction: (work) =>
      db.transaction(async (tx) => {
        await tx.exec(become);
        return work(tx);
      }),
  };
}

function propertiesOf(event: CloudFormationCustomResourceEvent): MigrationProperties {
  const props = event.ResourceProperties as Record<string, unknown>;
  const hash = props.MigrationsHash;
  const appUser = props.AppUser ?? '';
  if (typeof hash !== 'string' || hash.length === 0) throw new MigrationRequestError('ResourceProperties.MigrationsHash is missing');
  if (typeof appUser !== 'string') throw new MigrationRequestError('ResourceProperties.AppUser must be a string');
  return { MigrationsHash: hash, AppUser: appUser };
}

/**
 * Create/Update: apply exactly what `npm run migrate` applies (same migrate(), same files), after
 * creating the IAM app role in rds mode. Delete: nothing; the schema and its data outlive the stack.
 * Any error propagates, so the deploy fails and CloudFormation rolls back.
 */
export function migrationHandler(deps: MigrateDependencies) {
  return async (event: CloudFormationCustomResourceEvent): Promise<ProviderResponse> => {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const props = propertiesOf(event);
    const migrations = await deps.loadMigrations();
    if (migrations.length === 0) throw new MigrationRequestError('the function was bundled without migrations');
    const db = await deps.connect();
    let report: MigrationReport;
    try {
      if (props.AppUser) await ensureAppRole(db, props.AppUser);
      report = await migrate(props.AppUser ? actingAs(db, props.AppUser) : db, migrations);
    } finally {
      await db.end();
    }
    return {
      PhysicalResourceId: PHYSICAL_ID,
      Data: { Engine: report.engine, Applied: String(report.applied.length), Skipped: String(report.skipped.length) },
    };
  };
}
