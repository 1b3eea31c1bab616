import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { InstanceType, Port, SecurityGroup, type IConnectable, type ISecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  CaCertificate,
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  DatabaseProxy,
  DefaultAuthScheme,
  ParameterGroup,
  PostgresEngineVersion,
  ProxyTarget,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PROXY_MAX_CONNECTIONS_PERCENT, type StageConfig } from '#config/stages';
import type { Network } from './network.ts';
import { InfraConfigError } from './errors.ts';

/**
 * Who connects:
 * - `app`: ingest, writer, maintenance. Through RDS Proxy with IAM tokens in rds mode.
 * - `owner`: the deploy-time migration. Straight to the instance with the master secret in rds mode
 *   (DDL and advisory locks would pin every proxy connection anyway), so it can also create the app role.
 */
export type DatabaseAccess = 'app' | 'owner';

/** A function that can be given database access: IAM identity, and network identity when in the VPC. */
export interface DatabaseClient {
  /** The function's role. */
  readonly grantee: IGrantable;
  /**
   * The function's network identity.
   * @default - the function runs outside the VPC (external and LocalStack modes)
   */
  readonly connections?: IConnectable;
}

export interface DatabaseProps {
  /** Database section of the stage config: rds, external or embedded (LocalStack). */
  readonly config: StageConfig['database'];
  /**
   * Required in rds mode: the database, its proxy and their clients live in its isolated subnets.
   * @default - none (external and embedded modes)
   */
  readonly network?: Network;
  /**
   * Connection URL for the embedded mode (the LocalStack deployment of the local stage). Must not
   * carry a password: it ends up in the functions' environment.
   * @default - required in embedded mode, ignored otherwise
   */
  readonly localDatabaseUrl?: string;
  /**
   * Database name.
   * @default 'tapline'
   */
  readonly databaseName?: string;
  /**
   * Retention of the exported PostgreSQL log (rds mode).
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * PostgreSQL role the functions log in as with IAM tokens (rds mode); the migration creates it.
   * @default 'tapline_app'
   */
  readonly appUser?: string;
}

export class DatabaseConfigError extends InfraConfigError {
  override readonly name = 'DatabaseConfigError';
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const PG_PORT = 5432;
/** Node 20+ Lambda runtimes do not load the Amazon RDS CA bundle unless asked; RDS Proxy uses public ACM certificates. */
const RDS_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/**
 * The warehouse database in one of three modes.
 * - rds: RDS for PostgreSQL (encrypted, private, TLS forced) behind RDS Proxy with Require TLS and
 *   end-to-end IAM authentication. RDS for PostgreSQL has no TimescaleDB: the schema runs its
 *   plain-PostgreSQL path there (partitions + rollup tables).
 * - external: an existing PostgreSQL/TimescaleDB (e.g. Timescale Cloud) behind a Secrets Manager
 *   secret; no RDS, no proxy, functions outside the VPC (the database is reached over TLS).
 * - embedded: the LocalStack deployment; a password-less URL to the TimescaleDB container.
 */
export class Database extends Construct {
  public readonly mode: StageConfig['database']['mode'];
  public readonly databaseName: string;
  /** rds mode only. */
  public readonly instance?: DatabaseInstance;
  /** rds mode only. */
  public readonly proxy?: DatabaseProxy;
  /** rds mode only: the IAM-auth login role of the functions. */
  public readonly appUser?: string;
  /** Secret the migration connects with: the RDS master secret or the external connection secret. */
  public readonly ownerSecret?: ISecret;
  private readonly instanceSecurityGroup?: SecurityGroup;
  private readonly proxySecurityGroup?: SecurityGroup;
  private readonly localDatabaseUrl?: string;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const config = props.config;
    this.mode = config.mode;
    this.databaseName = props.databaseName ?? 'tapline';
    if (!IDENTIFIER.test(this.databaseName)) throw new DatabaseConfigError(`invalid database name "${this.databaseName}"`);

    if (config.mode === 'external') {
      this.ownerSecret = Secret.fromSecretCompleteArn(this, 'ConnectionSecret', config.secretArn);
      return;
    }
    if (config.mode === 'embedded') {
      const url = props.localDatabaseUrl;
      if (!url) {
        throw new DatabaseConfigError('database mode "embedded" deploys only to LocalStack: set localstack.databaseUrl in the stage config');
      }
      if (new URL(url).password !== '') throw new DatabaseConfigError('localstack.databaseUrl must not contain a password');
      this.localDatabaseUrl = url;
      return;
    }

    const network = props.network;
    if (!network) throw new DatabaseConfigError('database mode "rds" needs the network (isolated subnets)');
    const appUser = props.appUser ?? 'tapline_app';
    if (!IDENTIFIER.test(appUser)) throw new DatabaseConfigError(`invalid app user "${appUser}"`);
    this.appUser = appUser;
    const isProdLike = config.multiAz && config.deletionProtection;

    this.instanceSecurityGroup = new SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: network.vpc,
      description: 'tapline PostgreSQL: from RDS Proxy, the migration and secret rotation only',
      allowAllOutbound: false,
    });
    this.proxySecurityGroup = new SecurityGroup(this, 'ProxySecurityGroup', {
      vpc: network.vpc,
      description: 'tapline RDS Proxy: from the functions only',
      allowAllOutbound: false,
    });
    this.instanceSecurityGroup.addIngressRule(this.proxySecurityGroup, Port.tcp(PG_PORT), 'RDS Proxy to PostgreSQL');
    this.proxySecurityGroup.addEgressRule(this.instanceSecurityGroup, Port.tcp(PG_PORT), 'RDS Proxy to PostgreSQL');

    // RDS creates its log group on first export, with no expiry; creating it first (under the name
    // RDS will use, hence the fixed identifier) gives it the stage's retention without a custom resource.
    const instanceIdentifier = Names.uniqueResourceName(this, { maxLength: 50, separator: '-' }).toLowerCase();
    const postgresLogs = new LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/instance/${instanceIdentifier}/postgresql`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const instance = new DatabaseInstance(this, 'Instance', {
      engine: DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_17 }),
      instanceType: new InstanceType(config.instanceClass),
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      securityGroups: [this.instanceSecurityGroup],
      credentials: Credentials.fromGeneratedSecret('tapline_admin'),
      databaseName: this.databaseName,
      port: PG_PORT,
      allocatedStorage: config.allocatedStorageGb,
      storageType: StorageType.GP3,
      storageEncrypted: true,
      multiAz: config.multiAz,
      deletionProtection: config.deletionProtection,
      backupRetention: Duration.days(config.backupRetentionDays),
      iamAuthentication: true,
      publiclyAccessible: false,
      caCertificate: CaCertificate.RDS_CA_RSA2048_G1,
      parameterGroup: new ParameterGroup(this, 'Parameters', {
        engine: DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_17 }),
        description: 'tapline: TLS required for every connection; the connection budget of the stage',
        // max_connections is static: a change takes effect at the next reboot of the instance.
        parameters: { 'rds.force_ssl': '1', max_connections: String(config.maxConnections) },
      }),
      instanceIdentifier,
      cloudwatchLogsExports: ['postgresql'],
      autoMinorVersionUpgrade: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    instance.node.addDependency(postgresLogs);
    this.instance = instance;
    if (!instance.secret) throw new DatabaseConfigError('the instance has no generated master secret');
    this.ownerSecret = instance.secret;

    const rotationSecurityGroup = network.functionSecurityGroup('SecretRotation', 'tapline master secret rotation');
    this.allowDirect(rotationSecurityGroup, 'master secret rotation');
    instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: network.isolatedSubnets,
      endpoint: network.secretsManagerEndpoint,
      securityGroup: rotationSecurityGroup,
    });

    // End-to-end IAM: clients present IAM tokens to the proxy and the proxy logs in to PostgreSQL
    // with IAM too, so no app password exists anywhere; the proxy's role may connect as the app user only.
    const proxyRole = new Role(this, 'ProxyRole', { assumedBy: new ServicePrincipal('rds.amazonaws.com') });
    const stack = Stack.of(this);
    proxyRole.addToPolicy(
      new PolicyStatement({
        actions: ['rds-db:connect'],
        resources: [`arn:${stack.partition}:rds-db:${stack.region}:${stack.account}:dbuser:${instance.instanceResourceId}/${appUser}`],
      }),
    );
    this.proxy = new DatabaseProxy(this, 'Proxy', {
      proxyTarget: ProxyTarget.fromInstance(instance),
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      securityGroups: [this.proxySecurityGroup],
      requireTLS: true,
      iamAuth: true,
      defaultAuthScheme: DefaultAuthScheme.IAM_AUTH,
      role: proxyRole,
      // Proxy names are unique per account and region, and CDK's default is the construct id.
      dbProxyName: Names.uniqueResourceName(this, { maxLength: 60, separator: '-' }),
      idleClientTimeout: Duration.minutes(30),
      // The rest of max_connections stays free for the migration, secret rotation and an operator.
      maxConnectionsPercent: PROXY_MAX_CONNECTIONS_PERCENT,
    });

    Validations.of(instance).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason: 'Default port 5432 kept: the instance has no route from outside its isolated subnets and admits only the proxy, migration and rotation security groups.',
    });
    if (!isProdLike) {
      Validations.of(instance).acknowledge(
        { id: 'AwsSolutions-RDS3', reason: 'Single-AZ on purpose outside prod (config database.multiAz); prod is Multi-AZ.' },
        { id: 'AwsSolutions-RDS10', reason: 'Deletion protection off on purpose outside prod so the stage can be torn down; prod has it.' },
      );
    }
  }

  /** Environment variables that point a function at the database, matching layers/core/src/env.ts. */
  environmentFor(access: DatabaseAccess): Record<string, string> {
    if (this.localDatabaseUrl) return { DATABASE_URL: this.localDatabaseUrl };
    if (this.mode === 'external' && this.ownerSecret) return { DB_SECRET_ARN: this.ownerSecret.secretArn };
    if (!this.proxy || !this.appUser || !this.ownerSecret) throw new DatabaseConfigError('rds mode is not fully built');
    if (access === 'owner') {
      return { DB_SECRET_ARN: this.ownerSecret.secretArn, NODE_EXTRA_CA_CERTS: RDS_CA_BUNDLE };
    }
    return {
      DB_HOST: this.proxy.endpoint,
      DB_PORT: String(PG_PORT),
      DB_NAME: this.databaseName,
      DB_USER: this.appUser,
      DB_AUTH: 'iam',
    };
  }

  /** IAM and network access for one client; pair with `environmentFor`. */
  grantAccess(client: DatabaseClient, access: DatabaseAccess): void {
    if (this.mode === 'embedded') return;
    if (this.mode === 'external') {
      this.ownerSecret?.grantRead(client.grantee);
      return;
    }
    if (!client.connections) throw new DatabaseConfigError('in rds mode a database client must run in the VPC');
    const peer = client.connections.connections.securityGroups[0];
    if (!peer) throw new DatabaseConfigError('the database client has no security group');
    if (access === 'owner') {
      this.ownerSecret?.grantRead(client.grantee);
      this.allowDirect(peer, 'the migration');
      return;
    }
    if (!this.proxy || !this.proxySecurityGroup || !this.appUser) throw new DatabaseConfigError('rds mode is not fully built');
    this.proxy.grantConnect(client.grantee, this.appUser);
    this.proxySecurityGroup.addIngressRule(peer, Port.tcp(PG_PORT), 'functions to RDS Proxy');
    peer.addEgressRule(this.proxySecurityGroup, Port.tcp(PG_PORT), 'RDS Proxy');
  }

  private allowDirect(peer: ISecurityGroup, why: string): void {
    if (!this.instanceSecurityGroup) throw new DatabaseConfigError('rds mode is not fully built');
    this.instanceSecurityGroup.addIngressRule(peer, Port.tcp(PG_PORT), why);
    peer.addEgressRule(this.instanceSecurityGroup, Port.tcp(PG_PORT), 'PostgreSQL');
  }
}
