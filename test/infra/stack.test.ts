import { join } from 'node:path';
import { CloudFormationValidatePlugin, type CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsVisibilitySeconds, loadStageConfig, PROXY_MAX_CONNECTIONS_PERCENT, reservedConcurrency, STAGE_DATA, STAGES, type StageConfig } from '#config/stages';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE, MetricName } from '#core/metricNames';
import { metrics } from '#core/observability';
import { migrationsHash } from '../../infra/constructs/migrations.ts';
import { normalise, projectRoot, resourcesOfType, synthStage, type CfnResource, type SynthesizedStage } from './synth.ts';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Actions that have no resource-level permissions, the only ones allowed on Resource "*". */
const RESOURCELESS_ACTIONS = new Set([
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
]);

/** One engine for the whole file: starting the validation engine is the expensive part. */
const cloudFormationValidation = new CloudFormationValidatePlugin();

function validateTemplate(s: SynthesizedStage): string[] {
  const report = cloudFormationValidation.validate({
    templatePaths: [s.templatePath],
    stackTemplates: [{ stackConstructPath: s.stack.node.path, templatePath: s.templatePath, accountId: undefined, region: undefined }],
    appConstruct: s.app,
  });
  return report.violations.map((v) => `${v.ruleName}: ${v.description}`);
}

const DASHBOARD_METRICS = [
  'RecordsIn',
  'IteratorAge',
  'GetRecords.IteratorAgeMilliseconds',
  'ReadingsWritten',
  'LateReadings',
  'DuplicateReadings',
  'RedeliveredRecords',
  'RowsInserted',
  'DeadLetteredRecords',
  'ConflictingReadings',
  'DerivedEvents',
  'DerivedEventsWritten',
  'DerivedEventsInvalid',
  'DerivedEventsDuplicate',
  'DerivedEventsWriteFailed',
  'BatchDurationMs',
  'ApproximateNumberOfMessagesVisible',
  'ApproximateAgeOfOldestMessage',
  'Duration',
  'PolledEventCount',
  'InvokedEventCount',
  'FailedInvokeEventCount',
  'WriteProvisionedThroughputExceeded',
  'ReadProvisionedThroughputExceeded',
  'OutboxOldestAgeSeconds',
  'OutboxPending',
  'OutboxPublishFailed',
];

interface AlarmProps {
  AlarmName: string;
  AlarmDescription: unknown;
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
  Threshold: number;
  Statistic?: string;
  Period?: number;
  EvaluationPeriods: number;
  ComparisonOperator: string;
  Metrics?: Array<{ MetricStat?: { Metric: { Namespace: string; Dimensions?: Array<{ Name: string; Value: unknown }> } } }>;
}

function contractsFor(name: string, config: StageConfig): void {
  describe(`the ${name} stack`, () => {
    let s: SynthesizedStage;
    const id = (c: IConstruct): string => s.stack.getLogicalId(c.node.defaultChild as CfnElement);
    type FunctionName = 'simulator' | 'ingest' | 'writer' | 'maintenance' | 'migrate';
    const fnIds = (): Record<FunctionName, string> => ({
      simulator: id(s.stack.functions.simulator.lambda),
      ingest: id(s.stack.functions.ingest.lambda),
      writer: id(s.stack.functions.writer.lambda),
      maintenance: id(s.stack.functions.maintenance.lambda),
      migrate: id(s.stack.migrations.function.lambda),
    });
    const envOf = (logicalId: string): Record<string, unknown> => {
      const props = s.json.Resources[logicalId]?.Properties as { Environment?: { Variables?: Record<string, unknown> } };
      return props.Environment?.Variables ?? {};
    };
    const statements = (): Statement[] =>
      resourcesOfType(s.json, 'AWS::IAM::Policy').flatMap(([, r]) => (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);

    beforeAll(() => {
      s = synthStage(config);
    });

    it('maps the stream to ingest with exactly the configured batching, retries, bisect, partial responses and OnFailure queue', () => {
      const ingest = config.ingest;
      s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [id(s.stack.stream.stream), 'Arn'] },
        FunctionName: { Ref: fnIds().ingest },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: ingest.batchSize,
        MaximumBatchingWindowInSeconds: ingest.batchWindowSeconds,
        ParallelizationFactor: ingest.parallelizationFactor,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: ingest.maxRetryAttempts === -1 ? Match.absent() : ingest.maxRetryAttempts,
        MaximumRecordAgeInSeconds: ingest.maxRecordAgeSeconds === -1 ? Match.absent() : ingest.maxRecordAgeSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(s.stack.ingestFailures.queue), 'Arn'] } } },
      });
    });

    it('outputs the queue URLs the redrive command needs', () => {
      for (const [output, queue] of [
        ['InvalidRecordsQueueUrl', s.stack.invalidRecords.queue],
        ['IngestFailuresQueueUrl', s.stack.ingestFailures.queue],
        ['EventsQueueUrl', s.stack.events.queue],
        ['EventsDlqUrl', s.stack.events.deadLetterQueue],
      ] as const) {
        s.template.hasOutput(output, { Value: { Ref: id(queue) } });
      }
    });

    it('creates the stream KMS-encrypted with the configured capacity mode and retention', () => {
      s.template.hasResourceProperties('AWS::Kinesis::Stream', {
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
        RetentionPeriodHours: config.stream.retentionHours,
        StreamModeDetails: { StreamMode: config.stream.mode === 'on-demand' ? 'ON_DEMAND' : 'PROVISIONED' },
        ShardCount: config.stream.mode === 'on-demand' ? Match.absent() : config.stream.shards,
      });
    });

    it('redrives the events queue to its DLQ and gives it the visibility the writer timeout needs', () => {
      s.template.hasResourceProperties('AWS::SQS::Queue', {
        VisibilityTimeout: eventsVisibilitySeconds(config),
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [id(s.stack.events.deadLetterQueue), 'Arn'] },
          maxReceiveCount: config.eventsQueue.maxReceiveCount,
        },
      });
      expect(eventsVisibilitySeconds(config)).toBeGreaterThanOrEqual(6 * config.writer.timeoutSeconds);
    });

    it('feeds the writer from the events queue with partial batch responses and bounded concurrency', () => {
      s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [id(s.stack.events.queue), 'Arn'] },
        FunctionName: { Ref: fnIds().writer },
        BatchSize: config.writer.batchSize,
        MaximumBatchingWindowInSeconds: config.writer.batchWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: config.writer.maxConcurrency },
      });
    });

    it('encrypts every queue at rest and refuses non-TLS access to each', () => {
      const queues = resourcesOfType(s.json, 'AWS::SQS::Queue');
      expect(queues).toHaveLength(4);
      for (const [queueId, queue] of queues) {
        expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
        s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
          },
        });
      }
    });

    it('alarms to the SNS topic on iterator age, on any message in each DLQ, and on errors and throttles of every function', () => {
      const topic = { Ref: id(s.stack.observability.topic) };
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnIds().ingest } }],
        Statistic: 'Maximum',
        Threshold: config.alarms.iteratorAgeMs,
        AlarmActions: [topic],
      });
      for (const dlq of [s.stack.ingestFailures.queue, s.stack.invalidRecords.queue, s.stack.events.deadLetterQueue]) {
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(dlq), 'QueueName'] } }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: [topic],
        });
      }
      for (const fn of ['simulator', 'ingest', 'writer', 'maintenance'] as const) {
        const ref = { Ref: fnIds()[fn] };
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Threshold: config.alarms.errorRatePct,
          AlarmActions: [topic],
          Metrics: Match.arrayWith([
            Match.objectLike({ Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)' }),
            Match.objectLike({
              Id: 'errors',
              MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: ref }] }) }),
            }),
          ]),
        });
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'Throttles',
          Dimensions: [{ Name: 'FunctionName', Value: ref }],
          Threshold: 1,
          AlarmActions: [topic],
        });
      }
      for (const [, alarm] of resourcesOfType(s.json, 'AWS::CloudWatch::Alarm')) {
        expect(alarm.Properties?.AlarmActions).toEqual([topic]);
      }
    });

    const alarmsById = (): Map<string, AlarmProps> =>
      new Map(
        resourcesOfType(s.json, 'AWS::CloudWatch::Alarm').map(([, r]) => {
          const props = r.Properties as unknown as AlarmProps;
          return [props.AlarmName.replace(`tapline-${config.stage}-`, ''), props] as const;
        }),
      );
    const alarm = (name: string): AlarmProps => {
      const found = alarmsById().get(name);
      if (!found) throw new Error(`no alarm ${name}; have ${[...alarmsById().keys()].join(', ')}`);
      return found;
    };

    it('names every alarm after the stack, so the topic policy can admit exactly these', () => {
      const names = resourcesOfType(s.json, 'AWS::CloudWatch::Alarm').map(([, r]) => (r.Properties as unknown as AlarmProps).AlarmName);
      expect(names.length).toBeGreaterThan(20);
      for (const name of names) expect(name).toMatch(new RegExp(`^tapline-${config.stage}-[A-Za-z]+$`));
      expect(new Set(names).size).toBe(names.length);
    });

    it("lets CloudWatch publish to the alarm topic, only for this stack's alarms in this account, and keeps refusing non-TLS", () => {
      s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: id(s.stack.observability.topic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: id(s.stack.observability.topic) },
              Condition: {
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnLike: {
                  'aws:SourceArn': {
                    'Fn::Join': [
                      '',
                      ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:alarm:tapline-${config.stage}-*`],
                    ],
                  },
                },
              },
            }),
          ]),
        },
      });
      s.template.resourceCountIs('AWS::SNS::Subscription', config.alarms.email ? 1 : 0);
    });

    it('puts the stage dimension on every custom metric it alarms on or graphs', () => {
      const custom = [...alarmsById().entries()].flatMap(([name, a]) => [
        ...(a.Namespace === METRICS_NAMESPACE ? [[name, a.Dimensions] as const] : []),
        ...(a.Metrics ?? []).filter((m) => m.MetricStat?.Metric.Namespace === METRICS_NAMESPACE).map((m) => [name, m.MetricStat?.Metric.Dimensions] as const),
      ]);
      expect(custom.map(([name]) => name).sort()).toEqual(['ConflictingReadings', 'OutboxAge', 'WriterWriteFailures']);
      for (const [name, dimensions] of custom) {
        expect(dimensions, name).toEqual([
          { Name: 'service', Value: METRICS_SERVICE },
          { Name: 'stage', Value: config.stage },
        ]);
      }
      const body = JSON.stringify(resourcesOfType(s.json, 'AWS::CloudWatch::Dashboard')[0]?.[1].Properties?.DashboardBody);
      const graphed = [...body.matchAll(/\\"Tapline\\",\\"([A-Za-z]+)\\"((?:,\\"[^"\\]+\\")*)/g)];
      expect(graphed.length).toBeGreaterThan(15);
      for (const [, metric, dims] of graphed) expect(dims, metric).toBe(`,\\"service\\",\\"tapline\\",\\"stage\\",\\"${config.stage}\\"`);
    });

    it('alarms on stream lag, stream throttling, a stuck events queue and outbox, with the thresholds of the stage', () => {
      const a = config.alarms;
      expect(alarm('StreamIteratorAge')).toMatchObject({
        Namespace: 'AWS/Kinesis',
        MetricName: 'GetRecords.IteratorAgeMilliseconds',
        Statistic: 'Maximum',
        Threshold: a.iteratorAgeMs,
      });
      expect(alarm('StreamIteratorAge').Dimensions).toEqual([{ Name: 'StreamName', Value: { Ref: id(s.stack.stream.stream) } }]);
      expect(alarm('StreamWriteThrottled')).toMatchObject({
        MetricName: 'WriteProvisionedThroughputExceeded',
        Statistic: 'Sum',
        Period: 300,
        Threshold: a.streamWriteThrottledRecords,
      });
      expect(alarm('StreamReadThrottled')).toMatchObject({ MetricName: 'ReadProvisionedThroughputExceeded', Statistic: 'Sum', Period: 300, Threshold: a.streamReadThrottledCalls });
      expect(alarm('EventsQueueAge')).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Threshold: a.eventsQueueAgeSeconds });
      expect(alarm('EventsQueueAge').Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(s.stack.events.queue), 'QueueName'] } }]);
      expect(alarm('OutboxAge')).toMatchObject({ MetricName: MetricName.OutboxOldestAgeSeconds, Statistic: 'Maximum', Threshold: a.outboxAgeSeconds });
      expect(alarm('ConflictingReadings')).toMatchObject({ MetricName: MetricName.ConflictingReadings, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    });

    it('raises the OnFailure alarm at the first message, saying the records expire with the stream and how to replay them', () => {
      const onFailure = alarm('IngestFailuresDlqDepth');
      expect(onFailure).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        EvaluationPeriods: 1,
        Period: 60,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect(onFailure.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(s.stack.ingestFailures.queue), 'QueueName'] } }]);
      const text = JSON.stringify(onFailure.AlarmDescription);
      expect(text).toContain('UNRECOVERABLE');
      expect(text).toContain(`${config.stream.retentionHours} h`);
      expect(text).toContain('npm run redrive -- ingest --invalid-records ');
      expect(text).toContain(`{"Ref":"${id(s.stack.ingestFailures.queue)}"}`);
    });

    it('turns on EventCount metrics for both mappings and alarms on records dropped or sent to OnFailure', () => {
      for (const source of [s.stack.stream.stream, s.stack.events.queue]) {
        s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: { 'Fn::GetAtt': [id(source), 'Arn'] },
          MetricsConfig: { Metrics: ['EventCount'] },
        });
      }
      const ingestMapping = resourcesOfType(s.json, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
        JSON.stringify(r.Properties?.EventSourceArn).includes(id(s.stack.stream.stream)),
      );
      for (const [name, metric] of [
        ['IngestMappingDropped', 'DroppedEventCount'],
        ['IngestMappingOnFailure', 'OnFailureDestinationDeliveredEventCount'],
      ] as const) {
        expect(alarm(name), name).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Statistic: 'Sum',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        expect(alarm(name).Dimensions).toEqual([{ Name: 'EventSourceMappingUUID', Value: { Ref: ingestMapping?.[0] } }]);
      }
    });

    it(config.retainOnDelete.stream ? 'retains the stream and the three dead-letter queues on delete and replacement' : 'deletes the stream and the queues with the stack', () => {
      const policy = (c: IConstruct) => {
        const r = s.json.Resources[id(c)] as CfnResource & { DeletionPolicy?: string; UpdateReplacePolicy?: string };
        return [r.DeletionPolicy, r.UpdateReplacePolicy];
      };
      const keep = (yes: boolean) => (yes ? ['Retain', 'Retain'] : ['Delete', 'Delete']);
      expect(policy(s.stack.stream.stream)).toEqual(keep(config.retainOnDelete.stream));
      for (const q of [s.stack.ingestFailures.queue, s.stack.invalidRecords.queue, s.stack.events.deadLetterQueue]) {
        expect(policy(q)).toEqual(keep(config.retainOnDelete.deadLetterQueues));
      }
      // The work queue's messages are in flight: the outbox and the stream hold them again.
      expect(policy(s.stack.events.queue)).toEqual(['Delete', 'Delete']);
    });

    it('reserves concurrency for every database client: ingest one per shard and parallelization slot', () => {
      const reserved = reservedConcurrency(config);
      expect(reserved.ingest).toBe(config.stream.shards * config.ingest.parallelizationFactor);
      for (const fn of ['ingest', 'writer', 'maintenance'] as const) {
        expect(s.json.Resources[fnIds()[fn]]?.Properties?.ReservedConcurrentExecutions, fn).toBe(reserved[fn]);
      }
      for (const fn of ['simulator', 'migrate'] as const) expect(s.json.Resources[fnIds()[fn]]?.Properties?.ReservedConcurrentExecutions, fn).toBeUndefined();
    });

    it('draws every pipeline metric on one dashboard', () => {
      const dashboards = resourcesOfType(s.json, 'AWS::CloudWatch::Dashboard');
      expect(dashboards).toHaveLength(1);
      const body = JSON.stringify(dashboards[0]?.[1].Properties?.DashboardBody);
      const expected = config.database.mode === 'rds' ? [...DASHBOARD_METRICS, 'DatabaseConnectionsCurrentlySessionPinned', 'ClientConnections'] : DASHBOARD_METRICS;
      for (const metric of expected) expect(body, metric).toContain(`\\"${metric}\\"`);
      expect(body).toContain('\\"Tapline\\"');
    });

    it('builds every tapline function as nodejs22.x on arm64, untraced, with source maps and the stage log retention', () => {
      for (const [name, fnId] of Object.entries(fnIds())) {
        const props = s.json.Resources[fnId]?.Properties as Record<string, unknown>;
        expect(props, name).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
        });
        expect(props.TracingConfig, name).toBeUndefined();
        expect(envOf(fnId)).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', STAGE: config.stage });
        const logGroupId = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        expect(s.json.Resources[logGroupId]?.Properties?.RetentionInDays, name).toBe(config.logRetentionDays);
      }
    });

    it(config.dependencyLayer ? 'attaches the dependency layer to every function it builds' : 'bundles dependencies into each function, without a layer', () => {
      const layers = resourcesOfType(s.json, 'AWS::Lambda::LayerVersion');
      const functions = resourcesOfType(s.json, 'AWS::Lambda::Function');
      const providerFramework = id(s.stack.migrations.provider.node.findChild('framework-onEvent'));
      const ours = functions.filter(([fnId]) => fnId !== providerFramework);
      expect(ours.map(([fnId]) => fnId).sort()).toEqual(Object.values(fnIds()).sort());
      if (!config.dependencyLayer) {
        expect(layers).toHaveLength(0);
        for (const [, fn] of ours) expect(fn.Properties?.Layers).toBeUndefined();
        return;
      }
      expect(layers).toHaveLength(1);
      for (const [, fn] of ours) expect(fn.Properties?.Layers).toEqual([{ Ref: layers[0]?.[0] }]);
    });

    it('hands each function the queues and stream it uses through environment variables', () => {
      const ids = fnIds();
      expect(envOf(ids.simulator)).toMatchObject({
        STREAM_NAME: { Ref: id(s.stack.stream.stream) },
        SIMULATOR_RATE: String(config.simulator.ratePerSecond),
        SIMULATOR_DURATION_SECONDS: String(config.simulator.durationSeconds),
        SIMULATOR_SEED: String(config.simulator.seed),
        SIMULATOR_AGGREGATE: String(config.simulator.aggregate),
      });
      expect(envOf(ids.ingest)).toMatchObject({
        INGEST_DLQ_URL: { Ref: id(s.stack.invalidRecords.queue) },
        EVENTS_QUEUE_URL: { Ref: id(s.stack.events.queue) },
        TS_MAX_PAST_SECONDS: String(config.validation.maxPastSeconds),
        TS_MAX_FUTURE_SECONDS: String(config.validation.maxFutureSeconds),
      });
    });

    it('never puts a password into an environment variable', () => {
      for (const [, fn] of resourcesOfType(s.json, 'AWS::Lambda::Function')) {
        const vars = (fn.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {};
        for (const [key, value] of Object.entries(vars)) {
          expect(key).not.toMatch(/PASSWORD|TOKEN/);
          expect(JSON.stringify(value)).not.toMatch(/:\/\/[^/@]*:[^/@]*@/);
        }
      }
    });

    it('grants no wildcard actions, and Resource "*" only for actions that cannot be scoped', () => {
      const all = statements().filter((st) => st.Effect === 'Allow');
      expect(all.length).toBeGreaterThan(5);
      for (const st of all) {
        for (const action of list(st.Action)) expect(action, JSON.stringify(st)).not.toContain('*');
        if (list(st.Resource).includes('*')) {
          for (const action of list(st.Action)) expect(RESOURCELESS_ACTIONS, action).toContain(action);
        }
      }
    });

    it('gives only ingest read access to the stream and only the simulator write access', () => {
      const streamArn = { 'Fn::GetAtt': [id(s.stack.stream.stream), 'Arn'] };
      const onStream = resourcesOfType(s.json, 'AWS::IAM::Policy')
        .map(([policyId, r]) => {
          const doc = (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
          const actions = doc.Statement.filter((st) => JSON.stringify(st.Resource) === JSON.stringify(streamArn)).flatMap((st) => list(st.Action));
          return [policyId, actions] as const;
        })
        .filter(([, actions]) => actions.length > 0);
      expect(onStream).toHaveLength(2);
      const writers = onStream.filter(([, actions]) => actions.includes('kinesis:PutRecords'));
      const readers = onStream.filter(([, actions]) => actions.includes('kinesis:GetRecords'));
      expect(writers.map(([p]) => p)).toEqual([id(s.stack.functions.simulator.role.node.findChild('DefaultPolicy'))]);
      expect(readers.map(([p]) => p)).toEqual([id(s.stack.functions.ingest.role.node.findChild('DefaultPolicy'))]);
    });

    it('runs the migrations on deploy whenever a migration file changes, before any function uses the database', () => {
      const resourceId = id(s.stack.migrations.resource);
      s.template.hasResourceProperties('Custom::TaplineMigrations', {
        MigrationsHash: migrationsHash(join(projectRoot, 'migrations')),
        AppUser: config.database.mode === 'rds' ? 'tapline_app' : '',
      });
      for (const fn of ['ingest', 'writer', 'maintenance'] as const) {
        expect(list(s.json.Resources[fnIds()[fn]]?.DependsOn ?? []), fn).toContain(resourceId);
      }
      expect(s.json.Resources[fnIds().migrate]?.Properties?.Handler).toBe('index.handler');
    });

    it('schedules maintenance, and the simulator (never retried) only when the stage asks for it', () => {
      const rules = resourcesOfType(s.json, 'AWS::Events::Rule');
      const target = (fnId: string) => rules.filter(([, r]) => JSON.stringify(r.Properties?.Targets).includes(`"${fnId}"`));
      const rate = (m: number) => `rate(${m} ${m === 1 ? 'minute' : 'minutes'})`;
      expect(target(fnIds().maintenance).map(([, r]) => r.Properties?.ScheduleExpression)).toEqual([rate(config.maintenance.scheduleMinutes)]);
      expect(target(fnIds().simulator).map(([, r]) => r.Properties?.ScheduleExpression)).toEqual(
        config.simulator.scheduleMinutes > 0 ? [rate(config.simulator.scheduleMinutes)] : [],
      );
      s.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: fnIds().simulator }, MaximumRetryAttempts: 0 });
    });

    if (config.database.mode === 'rds') {
      const db = config.database;
      it('puts RDS for PostgreSQL in isolated subnets, encrypted, TLS-only, with the stage availability and backups', () => {
        s.template.hasResourceProperties('AWS::RDS::DBInstance', {
          Engine: 'postgres',
          StorageEncrypted: true,
          PubliclyAccessible: false,
          EnableIAMDatabaseAuthentication: true,
          MultiAZ: db.multiAz,
          DeletionProtection: db.deletionProtection,
          BackupRetentionPeriod: db.backupRetentionDays,
          AllocatedStorage: String(db.allocatedStorageGb),
          DBInstanceClass: `db.${db.instanceClass}`,
        });
        s.template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1', max_connections: String(db.maxConnections) } });
        const instance = s.json.Resources[id(s.stack.database.instance!)];
        const identifier = instance?.Properties?.DBInstanceIdentifier;
        expect(instance?.Properties?.EnableCloudwatchLogsExports).toEqual(['postgresql']);
        s.template.hasResourceProperties('AWS::Logs::LogGroup', {
          LogGroupName: `/aws/rds/instance/${String(identifier)}/postgresql`,
          RetentionInDays: config.logRetentionDays,
        });
        expect(list(instance?.DependsOn ?? [])).toContain(id(s.stack.database.node.findChild('PostgresLogs')));
        s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
        s.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
      });

      it('fronts the database with RDS Proxy requiring TLS and end-to-end IAM authentication', () => {
        s.template.hasResourceProperties('AWS::RDS::DBProxy', {
          EngineFamily: 'POSTGRESQL',
          RequireTLS: true,
          DefaultAuthScheme: 'IAM_AUTH',
        });
        s.template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
          ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: PROXY_MAX_CONNECTIONS_PERCENT }),
        });
        s.template.hasResourceProperties('AWS::IAM::Policy', {
          Roles: [{ Ref: id(s.stack.database.node.findChild('ProxyRole')) }],
          PolicyDocument: {
            Statement: [
              Match.objectLike({
                Action: 'rds-db:connect',
                Resource: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [id(s.stack.database.instance!), 'DbiResourceId'] }, '/tapline_app'])] },
              }),
            ],
          },
        });
      });

      it('lets the functions connect through the proxy with IAM tokens as the app user, never with a password', () => {
        const proxy = id(s.stack.database.proxy!);
        for (const fn of ['ingest', 'writer', 'maintenance'] as const) {
          expect(envOf(fnIds()[fn]), fn).toEqual(
            expect.objectContaining({
              DB_HOST: { 'Fn::GetAtt': [proxy, 'Endpoint'] },
              DB_PORT: '5432',
              DB_USER: 'tapline_app',
              DB_AUTH: 'iam',
            }),
          );
          expect(envOf(fnIds()[fn])).not.toHaveProperty('DB_SECRET_ARN');
          const policy = id(s.stack.functions[fn].role.node.findChild('DefaultPolicy'));
          const grant = (s.json.Resources[policy]?.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement.find(
            (st) => st.Action === 'rds-db:connect',
          );
          expect(JSON.stringify(grant?.Resource), fn).toContain(`${proxy}","DBProxyArn"`);
          expect(JSON.stringify(grant?.Resource), fn).toContain('/tapline_app');
        }
      });

      it('gives only the migration the master secret, trusting the RDS CA for its direct TLS connection', () => {
        expect(envOf(fnIds().migrate)).toMatchObject({
          DB_SECRET_ARN: { Ref: id(s.stack.database.instance!.node.findChild('Secret').node.findChild('Attachment')) },
          NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        });
        const readers = statements().filter((st) => list(st.Action).includes('secretsmanager:GetSecretValue'));
        expect(readers).toHaveLength(1);
      });

      it('runs the database clients in the VPC and the simulator outside it', () => {
        const ids = fnIds();
        for (const fn of ['ingest', 'writer', 'maintenance', 'migrate'] as const) {
          expect(s.json.Resources[ids[fn]]?.Properties?.VpcConfig, fn).toBeDefined();
        }
        expect(s.json.Resources[ids.simulator]?.Properties?.VpcConfig).toBeUndefined();
        const services = resourcesOfType(s.json, 'AWS::EC2::VPCEndpoint').map(([, r]) => JSON.stringify(r.Properties?.ServiceName));
        for (const service of ['.sqs', '.secretsmanager', '.kinesis-streams']) {
          expect(
            services.some((name) => name.includes(service)),
            service,
          ).toBe(true);
        }
        expect(services).toHaveLength(3);
      });
    } else {
      it('deploys no RDS, proxy or VPC and points the functions at the LocalStack database URL', () => {
        for (const type of ['AWS::RDS::DBInstance', 'AWS::RDS::DBProxy', 'AWS::EC2::VPC']) s.template.resourceCountIs(type, 0);
        for (const fn of ['ingest', 'writer', 'maintenance', 'migrate'] as const) {
          expect(envOf(fnIds()[fn]).DATABASE_URL, fn).toBe(config.localstack?.databaseUrl);
        }
      });
    }

    it('passes the CloudFormation validation engine (resource schemas and CDK rules) with no finding', () => {
      expect(validateTemplate(s)).toEqual([]);
    });

    it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
      const report = new AwsSolutionsChecks().validateScope(s.stack);
      const findings = report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
      expect(findings).toEqual([]);
    });

    // One reviewed snapshot, of the stage that matters most; the other stages differ from it in
    // their settings, which the assertions above check by name.
    if (config.stage === 'prod') {
      it('matches the normalised template snapshot', async () => {
        await expect(`${JSON.stringify(normalise(s.json), null, 2)}\n`).toMatchFileSnapshot(`./__snapshots__/${name}.template.json`);
      });
    }
  });
}

for (const stage of STAGES) contractsFor(stage, loadStageConfig(stage));

// No shipped stage uses an external database yet; this one proves the mode.
const external = loadStageConfig('dev', {
  ...STAGE_DATA,
  dev: {
    ...(STAGE_DATA.dev as object),
    database: { mode: 'external', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tapline/timescale-AbCdEf' },
    alarms: { ...(STAGE_DATA.dev as { alarms: object }).alarms, email: 'oncall@example.com' },
  },
});

describe('a stage on an external database', () => {
  let s: SynthesizedStage;
  beforeAll(() => {
    s = synthStage(external);
  });

  it('creates no RDS, proxy or VPC and hands every database client the connection secret', () => {
    for (const type of ['AWS::RDS::DBInstance', 'AWS::RDS::DBProxy', 'AWS::EC2::VPC', 'AWS::EC2::VPCEndpoint']) s.template.resourceCountIs(type, 0);
    const arn = external.database.mode === 'external' ? external.database.secretArn : '';
    const clients = [s.stack.functions.ingest, s.stack.functions.writer, s.stack.functions.maintenance, s.stack.migrations.function];
    for (const fn of clients) {
      const logicalId = s.stack.getLogicalId(fn.lambda.node.defaultChild as CfnElement);
      const resource: CfnResource | undefined = s.json.Resources[logicalId];
      expect((resource?.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.DB_SECRET_ARN).toBe(arn);
      expect(resource?.Properties?.VpcConfig).toBeUndefined();
      s.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: s.stack.getLogicalId(fn.role.node.defaultChild as CfnElement) }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Resource: arn })]) },
      });
    }
    s.template.hasResourceProperties('Custom::TaplineMigrations', { AppUser: '' });
  });

  it('subscribes the configured e-mail address to the alarm topic', () => {
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    expect(new AwsSolutionsChecks().validateScope(s.stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('the metrics contract between the handlers and the dashboard', () => {
  it('writes the namespace and the service and stage dimensions the alarms and dashboard read', () => {
    // Act (STAGE is unset in tests: the schema's default, local)
    metrics.addMetric(MetricName.RecordsIn, MetricUnit.Count, 1);
    const emf = metrics.serializeMetrics() as unknown as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
      service: string;
      stage: string;
    };
    metrics.clearMetrics();

    // Assess
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS_NAMESPACE, Dimensions: [['service', 'stage']] });
    expect(emf.service).toBe(METRICS_SERVICE);
    expect(emf.stage).toBe('local');
  });

  it('graphs and alarms only on metric names some handler emits', async () => {
    // Prepare: every metric name the handlers and the layer emit, read from their source.
    const { readFile, readdir } = await import('node:fs/promises');
    const sourcesIn = async (dir: string) =>
      Promise.all(
        (await readdir(join(projectRoot, dir), { recursive: true }))
          .filter((f) => f.endsWith('.ts') && !f.endsWith('metricNames.ts'))
          .map((f) => readFile(join(projectRoot, dir, f), 'utf8')),
      );
    const sources = [...(await sourcesIn('functions')), ...(await sourcesIn('layers/core/src'))];
    const emitted = new Set(sources.flatMap((src) => [...src.matchAll(/addMetric\(\s*MetricName\.([A-Za-z]+)/g)].map((m) => m[1])));
    // Act: every application metric the prod template reads (dashboard body and alarms).
    const template = JSON.stringify(synthStage(loadStageConfig('prod')).json);
    const used = new Set([...template.matchAll(/\\"Tapline\\",\\"([A-Za-z]+)\\"/g), ...template.matchAll(/"MetricName":"([A-Za-z]+)","Namespace":"Tapline"/g)].map((m) => m[1]));
    // Assess
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !emitted.has(name)).sort()).toEqual([]);
    expect(
      sources.some((src) => /addMetric\(\s*'/.test(src)),
      'a metric name outside metricNames.ts',
    ).toBe(false);
  });
});

describe('the alarm runbook (docs/operations.md)', () => {
  it('has a section for every alarm of the prod stack, and every link in an alarm description lands on one', async () => {
    // Prepare
    const { readFile } = await import('node:fs/promises');
    const runbook = await readFile(join(projectRoot, 'docs/operations.md'), 'utf8');
    const headings = new Set([...runbook.matchAll(/^### (\w+)$/gm)].map((m) => (m[1] ?? '').toLowerCase()));
    const alarms = resourcesOfType(synthStage(loadStageConfig('prod')).json, 'AWS::CloudWatch::Alarm').map(
      ([, r]) => r.Properties as { AlarmName: string; AlarmDescription: unknown },
    );

    // Act
    const ids = alarms.map((a) => a.AlarmName.replace('tapline-prod-', ''));
    // Per-function alarms (IngestErrorRate, WriterThrottles, ...) share one section and are named in it.
    const undocumented = ids.filter(
      (alarmId) => !headings.has(alarmId.toLowerCase()) && !([...headings].some((h) => alarmId.toLowerCase().endsWith(h)) && runbook.includes(alarmId)),
    );
    const links = alarms.flatMap((a) => [...JSON.stringify(a.AlarmDescription).matchAll(/docs\/operations\.md#([a-z]+)/g)].map((m) => m[1] ?? ''));

    // Assess
    expect(ids.length).toBeGreaterThan(20);
    expect(undocumented).toEqual([]);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((anchor) => !headings.has(anchor))).toEqual([]);
  });
});
