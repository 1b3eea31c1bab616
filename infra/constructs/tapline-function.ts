import { AssetHashType, DockerImage, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Database, DatabaseAccess } from './database.ts';
import type { DependencyLayer } from './dependency-layer.ts';
import { EsbuildBundling } from './esbuild-bundling.ts';
import { InfraConfigError } from './errors.ts';

export interface TaplineFunctionNetwork {
  /** The VPC the function's network interfaces live in. */
  readonly vpc: IVpc;
  /** Subnets for those interfaces (tapline: the isolated ones). */
  readonly subnets: SubnetSelection;
  /** The function's own security group; database grants add their egress rule to it. */
  readonly securityGroup: ISecurityGroup;
}

export interface TaplineFunctionProps {
  /** Short name (`ingest`, `writer`, ...): part of the description and of the log group. */
  readonly name: string;
  /** Stage name, exported to the function as STAGE. */
  readonly stage: string;
  /** Repository root (package.json with the `#core/*` import map). */
  readonly projectRoot: string;
  /** Handler module relative to projectRoot; must export `handler`. */
  readonly entry: string;
  /** Memory in MB (128..10240). */
  readonly memoryMb: number;
  /** Timeout in seconds (1..900). */
  readonly timeoutSeconds: number;
  /** CloudWatch Logs retention in days; one of the values CloudWatch accepts (1, 3, 5, 7, 14, 30, ...). */
  readonly logRetentionDays: number;
  /**
   * Layer with the runtime node_modules; its packages are left out of the bundle.
   * @default - no layer: every dependency is bundled into the function
   */
  readonly dependencyLayer?: DependencyLayer;
  /**
   * VPC placement.
   * @default - not in a VPC
   */
  readonly network?: TaplineFunctionNetwork;
  /**
   * Extra environment variables (never secrets).
   * @default {}
   */
  readonly environment?: Record<string, string>;
  /**
   * Files or directories (relative to projectRoot) shipped in the asset next to index.mjs.
   * @default []
   */
  readonly assetFiles?: string[];
  /**
   * Reserved concurrency: at most this many instances run, and the account keeps them available.
   * @default - unreserved (shares the account's pool)
   */
  readonly reservedConcurrency?: number;
}

export class FunctionConfigError extends InfraConfigError {
  override readonly name = 'FunctionConfigError';
}

const RETENTION_DAYS = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));
const SECRET_LIKE = /(PASSWORD|SECRET(?!_ARN)|TOKEN|PRIVATE_KEY)/i;

/**
 * The one place that owns Lambda defaults for tapline: nodejs22.x on arm64, bundled by the local
 * esbuild into ESM with source maps (no Docker), its own log group with the stage's retention, and
 * a role that starts empty. No X-Ray tracing (docs/operations.md, "Tracing"). `bindX()` grants access AND sets the env var the handler
 * reads, so the two never drift apart.
 */
export class TaplineFunction extends Construct {
  public readonly lambda: LambdaFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: TaplineFunctionProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]*$/.test(props.name)) throw new FunctionConfigError(`${id}: name must be lower-case kebab, got "${props.name}"`);
    if (!/\.(ts|mts|js|mjs)$/.test(props.entry)) throw new FunctionConfigError(`${id}: entry must be a .ts or .js module, got "${props.entry}"`);
    if (!Number.isInteger(props.memoryMb) || props.memoryMb < 128 || props.memoryMb > 10_240) {
      throw new FunctionConfigError(`${id}: memory must be 128..10240 MB, got ${props.memoryMb}`);
    }
    if (!Number.isInteger(props.timeoutSeconds) || props.timeoutSeconds < 1 || props.timeoutSeconds > 900) {
      throw new FunctionConfigError(`${id}: timeout must be 1..900 s, got ${props.timeoutSeconds}`);
    }
    if (!RETENTION_DAYS.has(props.logRetentionDays)) {
      throw new FunctionConfigError(`${id}: CloudWatch does not accept a log retention of ${props.logRetentionDays} days`);
    }
    if (props.reservedConcurrency !== undefined && (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1)) {
      // 0 would stop the function altogether; that is an operator's switch, not a config value.
      throw new FunctionConfigError(`${id}: reserved concurrency must be a positive whole number, got ${props.reservedConcurrency}`);
    }
    const secretNames = Object.keys(props.environment ?? {}).filter((k) => SECRET_LIKE.test(k));
    if (secretNames.length > 0) throw new FunctionConfigError(`${id}: secrets never go in environment variables (${secretNames.join(', ')})`);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An empty role instead of AWSLambdaBasicExecutionRole: log writes are granted on this log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `tapline ${props.stage} ${props.name}`,
    });
    this.logGroup.grantWrite(this.role);

    const layer = props.dependencyLayer;
    this.lambda = new LambdaFunction(this, 'Function', {
      description: `tapline ${props.stage} ${props.name}`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      handler: 'index.handler',
      code: Code.fromAsset(props.projectRoot, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Required by the type; never pulled, local esbuild always bundles or throws.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: new EsbuildBundling({
            projectRoot: props.projectRoot,
            entry: props.entry,
            external: layer?.externalModules ?? [],
            assetFiles: props.assetFiles ?? [],
          }),
        },
      }),
      layers: layer ? [layer.layer] : [],
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      reservedConcurrentExecutions: props.reservedConcurrency,
      logGroup: this.logGroup,
      role: this.role,
      vpc: props.network?.vpc,
      vpcSubnets: props.network?.subnets,
      securityGroups: props.network ? [props.network.securityGroup] : undefined,
      environment: {
        STAGE: props.stage,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    });

    if (props.network) {
      // Lambda creates and deletes the function's ENIs with the execution role.
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'The Lambda VPC network-interface actions support no resource-level permissions; test/infra asserts Resource "*" carries only those actions.',
      });
      this.role.addToPolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the runtime tapline is built and tested for (esbuild target node22); moving to a newer runtime is a deliberate upgrade.',
    });
  }

  /** Producer access to the telemetry stream (PutRecords incl. KMS encrypt) + STREAM_NAME. */
  bindStreamWriter(stream: IStream): this {
    stream.grantWrite(this.role);
    this.lambda.addEnvironment('STREAM_NAME', stream.streamName);
    return this;
  }

  /** SendMessage to the queue for records the ingest function rejects + INGEST_DLQ_URL. */
  bindIngestDeadLetterQueue(queue: IQueue): this {
    queue.grantSendMessages(this.role);
    this.lambda.addEnvironment('INGEST_DLQ_URL', queue.queueUrl);
    return this;
  }

  /** SendMessage to the derived-events queue + EVENTS_QUEUE_URL. */
  bindEventsQueue(queue: IQueue): this {
    queue.grantSendMessages(this.role);
    this.lambda.addEnvironment('EVENTS_QUEUE_URL', queue.queueUrl);
    return this;
  }

  /** Database access for this function (IAM, security groups) + the DB_* / DATABASE_URL variables. */
  bindDatabase(database: Database, access: DatabaseAccess = 'app'): this {
    database.grantAccess({ grantee: this.role, connections: this.lambda.isBoundToVpc ? this.lambda : undefined }, access);
    for (const [name, value] of Object.entries(database.environmentFor(access))) this.lambda.addEnvironment(name, value);
    return this;
  }
}
