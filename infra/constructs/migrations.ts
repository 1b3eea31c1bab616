import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { Database } from './database.ts';
import type { DependencyLayer } from './dependency-layer.ts';
import type { Network } from './network.ts';
import { TaplineFunction } from './tapline-function.ts';
import { InfraConfigError } from './errors.ts';

export interface MigrationsProps {
  /** Stage name, exported to the migration function as STAGE. */
  readonly stage: string;
  /** Repository root. */
  readonly projectRoot: string;
  /** The database to migrate; in rds mode the migration also creates its IAM-auth app role. */
  readonly database: Database;
  /**
   * rds mode: the migration runs in the isolated subnets, next to the instance.
   * @default - outside any VPC
   */
  readonly network?: Network;
  /**
   * Layer with the runtime node_modules.
   * @default - every dependency bundled into the function
   */
  readonly dependencyLayer?: DependencyLayer;
  /** Retention of the migration's and the provider framework's logs, in days. */
  readonly logRetentionDays: number;
}

/** The NNNN_name[.timescale|.plain].sql files `npm run migrate` applies, relative to the project root. */
const MIGRATIONS_DIR = 'migrations';
const MIGRATE_TIMEOUT_SECONDS = 300;

export class MigrationsConfigError extends InfraConfigError {
  override readonly name = 'MigrationsConfigError';
}

/** sha256 over every migration file's name and content: a changed or added file re-runs the migration. */
export function migrationsHash(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.sql'))
    .sort()) {
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(join(dir, name)))
      .update('\0');
  }
  return hash.digest('hex');
}

/**
 * Applies migrations on every deploy that changes them: a custom resource (Provider framework)
 * invoking functions/migrate/handler.ts, which runs the same migrate() as `npm run migrate`.
 * Deleting the stack leaves the schema alone.
 */
export class Migrations extends Construct {
  public readonly function: TaplineFunction;
  public readonly provider: Provider;
  public readonly resource: CustomResource;
  /** Hash of the migration files, a property of the resource. */
  public readonly hash: string;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    const absoluteDir = join(props.projectRoot, MIGRATIONS_DIR);
    if (!existsSync(absoluteDir)) throw new MigrationsConfigError(`no migrations directory at ${absoluteDir}`);
    this.hash = migrationsHash(absoluteDir);
    if (this.hash === createHash('sha256').digest('hex')) throw new MigrationsConfigError(`${absoluteDir} has no .sql files`);

    this.function = new TaplineFunction(this, 'Migrate', {
      name: 'migrate',
      stage: props.stage,
      projectRoot: props.projectRoot,
      entry: 'functions/migrate/handler.ts',
      memoryMb: 512,
      timeoutSeconds: MIGRATE_TIMEOUT_SECONDS,
      // A migration may rewrite a large table: the functions' 15 s statement timeout is not for it.
      // It connects straight to the instance, so the startup parameter applies.
      environment: { DB_STATEMENT_TIMEOUT_MS: String((MIGRATE_TIMEOUT_SECONDS - 30) * 1000) },
      logRetentionDays: props.logRetentionDays,
      dependencyLayer: props.dependencyLayer,
      network: props.network
        ? {
            vpc: props.network.vpc,
            subnets: props.network.isolatedSubnets,
            securityGroup: props.network.functionSecurityGroup('MigrateSecurityGroup', 'tapline migration: PostgreSQL to the instance'),
          }
        : undefined,
      // The handler reads ./migrations next to its bundle.
      assetFiles: [MIGRATIONS_DIR],
    }).bindDatabase(props.database, 'owner');

    this.provider = new Provider(this, 'Provider', {
      onEventHandler: this.function.lambda,
      logGroup: new LogGroup(this, 'ProviderLogs', {
        retention: props.logRetentionDays as RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::TaplineMigrations',
      properties: {
        MigrationsHash: this.hash,
        // rds mode: the role the functions log in as with IAM tokens; the migration creates it.
        AppUser: props.database.appUser ?? '',
      },
    });

    const migrateLogicalId = Stack.of(this).getLogicalId(this.function.lambda.node.defaultChild as CfnFunction);
    Validations.of(this.provider).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK Provider framework function: its role is built by aws-cdk-lib.',
      },
      { id: `AwsSolutions-IAM5[Resource::<${migrateLogicalId}.Arn>:*]`, reason: 'CDK Provider framework may invoke the migration function (any version of it) and nothing else.' },
      { id: 'AwsSolutions-L1', reason: 'CDK Provider framework function: aws-cdk-lib chooses its runtime.' },
    );
  }
}
