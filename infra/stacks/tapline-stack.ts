import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { MetricType, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { eventsVisibilitySeconds, reservedConcurrency, type StageConfig } from '#config/stages';
import { Database } from '../constructs/database.ts';
import { DependencyLayer } from '../constructs/dependency-layer.ts';
import { Migrations } from '../constructs/migrations.ts';
import { Network } from '../constructs/network.ts';
import { Observability } from '../constructs/observability.ts';
import { DeadLetterQueue, RedrivenQueue } from '../constructs/queues.ts';
import { TaplineFunction, type TaplineFunctionNetwork } from '../constructs/tapline-function.ts';
import { TelemetryStream } from '../constructs/telemetry-stream.ts';
import { InfraConfigError } from '../constructs/errors.ts';

export interface TaplineStackProps extends StackProps {
  /** The validated stage config (infra/config/stages.ts). */
  readonly config: StageConfig;
  /** Repository root: handlers, migrations and node_modules are found from here. */
  readonly projectRoot: string;
}

export class StackConfigError extends InfraConfigError {
  override readonly name = 'StackConfigError';
}

/**
 * One stage of tapline: simulator -> Kinesis -> ingest -> PostgreSQL (+ events queue -> writer),
 * scheduled maintenance, migrations on deploy, alarms and a dashboard. Environment-agnostic
 * (no account, region or lookups) so every stage synthesises offline.
 */
export class TaplineStack extends Stack {
  public readonly stream: TelemetryStream;
  public readonly database: Database;
  public readonly network?: Network;
  public readonly dependencyLayer?: DependencyLayer;
  public readonly migrations: Migrations;
  public readonly ingestFailures: DeadLetterQueue;
  public readonly invalidRecords: DeadLetterQueue;
  public readonly events: RedrivenQueue;
  public readonly functions: { simulator: TaplineFunction; ingest: TaplineFunction; writer: TaplineFunction; maintenance: TaplineFunction };
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: TaplineStackProps) {
    super(scope, id, props);
    const c = props.config;
    if (c.simulator.durationSeconds >= c.simulator.timeoutSeconds) {
      throw new StackConfigError(`simulator.durationSeconds (${c.simulator.durationSeconds}) must be shorter than its timeout (${c.simulator.timeoutSeconds})`);
    }
    if (c.ingest.maxRecordAgeSeconds !== -1 && c.ingest.maxRecordAgeSeconds < c.ingest.timeoutSeconds) {
      throw new StackConfigError('ingest.maxRecordAgeSeconds must leave room for at least one invocation');
    }

    // A VPC only where something private lives: the RDS instance and proxy. External databases are
    // reached over TLS from outside any VPC, which needs no NAT either.
    this.network = c.database.mode === 'rds' ? new Network(this, 'Network') : undefined;
    this.dependencyLayer = c.dependencyLayer ? new DependencyLayer(this, 'Dependencies', { projectRoot: props.projectRoot }) : undefined;
    this.database = new Database(this, 'Database', {
      config: c.database,
      network: this.network,
      localDatabaseUrl: c.localstack?.databaseUrl,
      logRetention: c.logRetentionDays,
    });
    const retain = (yes: boolean): RemovalPolicy => (yes ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    const deadLetters = retain(c.retainOnDelete.deadLetterQueues);
    this.stream = new TelemetryStream(this, 'Telemetry', { config: c.stream, removalPolicy: retain(c.retainOnDelete.stream) });
    this.ingestFailures = new DeadLetterQueue(this, 'IngestFailures', {
      holds: 'metadata (shard and sequence range) of Kinesis batches the ingest mapping gave up on; the records stay in the stream until retention',
      removalPolicy: deadLetters,
    });
    this.invalidRecords = new DeadLetterQueue(this, 'InvalidRecords', {
      holds: 'telemetry records the ingest function rejected as invalid, with their payload',
      removalPolicy: deadLetters,
    });
    this.events = new RedrivenQueue(this, 'Events', {
      visibilityTimeout: Duration.seconds(eventsVisibilitySeconds(c)),
      maxReceiveCount: c.eventsQueue.maxReceiveCount,
      deadLetterHolds: `derived events the writer failed to store ${c.eventsQueue.maxReceiveCount} times`,
      deadLetterRemovalPolicy: deadLetters,
    });
    const reserved = reservedConcurrency(c);
    this.migrations = new Migrations(this, 'Migrations', {
      stage: c.stage,
      projectRoot: props.projectRoot,
      database: this.database,
      network: this.network,
      dependencyLayer: this.dependencyLayer,
      logRetentionDays: c.logRetentionDays,
    });

    const common = { stage: c.stage, projectRoot: props.projectRoot, logRetentionDays: c.logRetentionDays, dependencyLayer: this.dependencyLayer };
    const network = this.network;
    const inVpc = (name: string): TaplineFunctionNetwork | undefined =>
      network && {
        vpc: network.vpc,
        subnets: network.isolatedSubnets,
        securityGroup: network.functionSecurityGroup(`${name}SecurityGroup`, `tapline ${name}: AWS endpoints and RDS Proxy`),
      };

    // The simulator touches nothing private, so it stays outside the VPC.
    const simulator = new TaplineFunction(this, 'Simulator', {
      ...common,
      name: 'simulator',
      entry: 'functions/simulator/handler.ts',
      memoryMb: c.simulator.memoryMb,
      timeoutSeconds: c.simulator.timeoutSeconds,
      environment: {
        SIMULATOR_RATE: String(c.simulator.ratePerSecond),
        SIMULATOR_DURATION_SECONDS: String(c.simulator.durationSeconds),
        SIMULATOR_SEED: String(c.simulator.seed),
        SIMULATOR_AGGREGATE: String(c.simulator.aggregate),
      },
    }).bindStreamWriter(this.stream.stream);

    const ingest = new TaplineFunction(this, 'Ingest', {
      ...common,
      name: 'ingest',
      entry: 'functions/ingest/handler.ts',
      memoryMb: c.ingest.memoryMb,
      timeoutSeconds: c.ingest.timeoutSeconds,
      reservedConcurrency: reserved.ingest,
      network: inVpc('Ingest'),
      environment: {
        TS_MAX_PAST_SECONDS: String(c.validation.maxPastSeconds),
        TS_MAX_FUTURE_SECONDS: String(c.validation.maxFutureSeconds),
      },
    })
      .bindIngestDeadLetterQueue(this.invalidRecords.queue)
      .bindEventsQueue(this.events.queue)
      .bindDatabase(this.database);
    // EventCount metrics (polled, invoked, failed, dropped, sent to OnFailure) are off unless asked for.
    const metricsConfig = { metrics: [MetricType.EVENT_COUNT] };
    const ingestMapping = new KinesisEventSource(this.stream.stream, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: c.ingest.batchSize,
      maxBatchingWindow: Duration.seconds(c.ingest.batchWindowSeconds),
      parallelizationFactor: c.ingest.parallelizationFactor,
      bisectBatchOnError: true,
      // -1 means "until the record expires", which is the mapping's default: leave the property out.
      retryAttempts: c.ingest.maxRetryAttempts === -1 ? undefined : c.ingest.maxRetryAttempts,
      maxRecordAge: c.ingest.maxRecordAgeSeconds === -1 ? undefined : Duration.seconds(c.ingest.maxRecordAgeSeconds),
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.ingestFailures.queue),
      metricsConfig,
    });
    ingest.lambda.addEventSource(ingestMapping);

    const writer = new TaplineFunction(this, 'Writer', {
      ...common,
      name: 'writer',
      entry: 'functions/writer/handler.ts',
      memoryMb: c.writer.memoryMb,
      timeoutSeconds: c.writer.timeoutSeconds,
      reservedConcurrency: reserved.writer,
      network: inVpc('Writer'),
    }).bindDatabase(this.database);
    const writerMapping = new SqsEventSource(this.events.queue, {
      batchSize: c.writer.batchSize,
      maxBatchingWindow: Duration.seconds(c.writer.batchWindowSeconds),
      reportBatchItemFailures: true,
      maxConcurrency: c.writer.maxConcurrency,
      metricsConfig,
    });
    writer.lambda.addEventSource(writerMapping);

    const maintenance = new TaplineFunction(this, 'Maintenance', {
      ...common,
      name: 'maintenance',
      entry: 'functions/maintenance/handler.ts',
      memoryMb: c.maintenance.memoryMb,
      timeoutSeconds: c.maintenance.timeoutSeconds,
      reservedConcurrency: reserved.maintenance,
      network: inVpc('Maintenance'),
    })
      // It sends what ingest left in the outbox (a crash between commit and send, a queue outage).
      .bindIngestDeadLetterQueue(this.invalidRecords.queue)
      .bindEventsQueue(this.events.queue)
      .bindDatabase(this.database);

    // Nothing reads or writes the warehouse before its schema exists.
    for (const fn of [ingest, writer, maintenance]) fn.lambda.node.addDependency(this.migrations.resource);

    // A missed run is better than a retried one: a retry would double the simulated load, and
    // maintenance runs again within minutes anyway (its failures raise the error-rate alarm).
    simulator.lambda.configureAsyncInvoke({ retryAttempts: 0 });
    if (c.simulator.scheduleMinutes > 0) {
      new Rule(this, 'SimulatorSchedule', {
        description: `tapline ${c.stage}: produce simulated telemetry`,
        schedule: Schedule.rate(Duration.minutes(c.simulator.scheduleMinutes)),
        targets: [new LambdaFunction(simulator.lambda, { retryAttempts: 0 })],
      });
    }
    if (c.maintenance.scheduleMinutes > 0) {
      new Rule(this, 'MaintenanceSchedule', {
        description: `tapline ${c.stage}: partitions, rollups, OEE`,
        schedule: Schedule.rate(Duration.minutes(c.maintenance.scheduleMinutes)),
        targets: [new LambdaFunction(maintenance.lambda, { retryAttempts: 0 })],
      });
    }
    this.functions = { simulator, ingest, writer, maintenance };

    this.observability = new Observability(this, 'Observability', {
      stage: c.stage,
      alarms: c.alarms,
      streamRetentionHours: c.stream.retentionHours,
      ingest: ingest.lambda,
      writer: writer.lambda,
      functions: { Ingest: ingest.lambda, Writer: writer.lambda, Simulator: simulator.lambda, Maintenance: maintenance.lambda },
      stream: this.stream.stream,
      onFailureQueue: this.ingestFailures.queue,
      invalidRecordsQueue: this.invalidRecords.queue,
      eventsQueue: this.events.queue,
      eventsDeadLetterQueue: this.events.deadLetterQueue,
      eventsMaxReceiveCount: c.eventsQueue.maxReceiveCount,
      mappings: { ingest: ingestMapping.eventSourceMappingId, writer: writerMapping.eventSourceMappingId },
      proxyName: this.database.proxy?.dbProxyName,
    });

    new CfnOutput(this, 'SimulatorFunctionName', { value: simulator.lambda.functionName });
    new CfnOutput(this, 'StreamName', { value: this.stream.stream.streamName });
    new CfnOutput(this, 'DashboardName', { value: this.observability.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    // What `npm run redrive` needs against AWS (--invalid-records, --on-failure, --events-queue, --events-dlq).
    new CfnOutput(this, 'InvalidRecordsQueueUrl', { value: this.invalidRecords.queue.queueUrl });
    new CfnOutput(this, 'IngestFailuresQueueUrl', { value: this.ingestFailures.queue.queueUrl });
    new CfnOutput(this, 'EventsQueueUrl', { value: this.events.queue.queueUrl });
    new CfnOutput(this, 'EventsDlqUrl', { value: this.events.deadLetterQueue.queueUrl });
  }
}
