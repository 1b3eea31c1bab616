import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, AlarmStatusWidget, ComparisonOperator, Dashboard, GraphWidget, MathExpression, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StageConfig } from '#config/stages';
import { METRICS_NAMESPACE, METRICS_SERVICE, MetricName } from '#core/metricNames';
import { InfraConfigError } from './errors.ts';

export interface ObservabilityProps {
  /** Stage name: the `stage` dimension of the custom metrics, the topic's display name, the key description. */
  readonly stage: string;
  /** Thresholds and the optional e-mail address, from the stage config. */
  readonly alarms: StageConfig['alarms'];
  /** Stream retention: an OnFailure range is replayable only inside it. */
  readonly streamRetentionHours: number;
  /** The Kinesis consumer. */
  readonly ingest: IFunction;
  /** The events-queue consumer. */
  readonly writer: IFunction;
  /** Every function whose errors and throttles are alarmed, by display name (ingest and writer included). */
  readonly functions: Record<string, IFunction>;
  /** The telemetry stream: iterator age and throttling. */
  readonly stream: IStream;
  /** The ingest mapping's OnFailure destination: its messages point into the stream. */
  readonly onFailureQueue: IQueue;
  /** The invalid-records DLQ (payloads the ingest function dead-lettered). */
  readonly invalidRecordsQueue: IQueue;
  /** The events queue and its dead-letter queue. */
  readonly eventsQueue: IQueue;
  readonly eventsDeadLetterQueue: IQueue;
  /** Receives before an event moves to the events DLQ. */
  readonly eventsMaxReceiveCount: number;
  /** Event source mapping UUIDs, for the mappings' EventCount metrics (MetricsConfig must be on). */
  readonly mappings: { readonly ingest: string; readonly writer: string };
  /**
   * RDS Proxy name for the pinning and connection graphs.
   * @default - no proxy widgets (external and LocalStack modes)
   */
  readonly proxyName?: string;
}

export class ObservabilityConfigError extends InfraConfigError {
  override readonly name = 'ObservabilityConfigError';
}

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

interface AlarmSpec {
  metric: IMetric;
  threshold: number;
  evaluationPeriods: number;
  /** What fired and what the operator does; part of the notification (docs/operations.md has the rest). */
  description: string;
  comparisonOperator?: ComparisonOperator;
}

/**
 * Alarms to one encrypted SNS topic that CloudWatch may publish to, and one dashboard for the
 * stage. Each alarm is named `<stack>-<id>` (the runbook in docs/operations.md goes by these ids).
 */
export class Observability extends Construct {
  public readonly topic: Topic;
  public readonly dashboard: Dashboard;
  public readonly alarms: Alarm[] = [];
  private readonly alarmPrefix: string;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const retentionMs = props.streamRetentionHours * 3_600_000;
    if (props.alarms.iteratorAgeMs >= retentionMs / 2) {
      throw new ObservabilityConfigError(
        `alarms.iteratorAgeMs (${props.alarms.iteratorAgeMs}) must be well under half the stream retention (${retentionMs / 2} ms), or records expire before anyone is told`,
      );
    }
    const stack = Stack.of(this);
    this.alarmPrefix = stack.stackName;

    // CloudWatch alarms can publish to an encrypted topic only with a customer-managed key that lets them.
    const key = new Key(this, 'TopicKey', {
      description: `tapline ${props.stage} alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'Topic', { displayName: `tapline ${props.stage} alarms`, masterKey: key, enforceSSL: true });
    // A topic policy replaces SNS's default one, which is what lets CloudWatch publish: without this
    // statement every alarm action fails with "not authorized to perform SNS:Publish".
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${this.alarmPrefix}-*` },
        },
      }),
    );
    if (props.alarms.email) this.topic.addSubscription(new EmailSubscription(props.alarms.email));

    const app = (metricName: MetricName, statistic = 'Sum', period = MINUTE): Metric =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: METRICS_SERVICE, stage: props.stage }, statistic, period });
    const mapping = (uuid: string, metricName: string): Metric =>
      new Metric({ namespace: 'AWS/Lambda', metricName, dimensionsMap: { EventSourceMappingUUID: uuid }, statistic: 'Sum', period: MINUTE });
    const any = { threshold: 1, evaluationPeriods: 1, comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD };
    const retentionText = `${props.streamRetentionHours} h`;
    const redriveIngest = `npm run redrive -- ingest --invalid-records ${props.invalidRecordsQueue.queueUrl} --on-failure ${props.onFailureQueue.queueUrl}`;

    // Lag: records are aging towards the end of the stream's retention.
    this.alarm('IngestIteratorAge', {
      metric: props.ingest.metric('IteratorAge', { statistic: 'Maximum', period: MINUTE }),
      threshold: props.alarms.iteratorAgeMs,
      evaluationPeriods: 3,
      description: `Ingest is falling behind the stream: its oldest unprocessed record is older than ${props.alarms.iteratorAgeMs} ms; records expire after ${retentionText}. See docs/operations.md#ingestiteratorage.`,
    });
    this.alarm('StreamIteratorAge', {
      metric: props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: MINUTE }),
      threshold: props.alarms.iteratorAgeMs,
      evaluationPeriods: 3,
      description: `A reader of the stream is more than ${props.alarms.iteratorAgeMs} ms behind; records expire after ${retentionText}. See docs/operations.md#streamiteratorage.`,
    });
    this.alarm('StreamWriteThrottled', {
      metric: props.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: props.alarms.streamWriteThrottledRecords,
      evaluationPeriods: 1,
      description: `The stream refused more than ${props.alarms.streamWriteThrottledRecords} records to producers in 5 minutes: too few shards for the write rate. See docs/operations.md#streamwritethrottled.`,
    });
    this.alarm('StreamReadThrottled', {
      metric: props.stream.metricReadProvisionedThroughputExceeded({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: props.alarms.streamReadThrottledCalls,
      evaluationPeriods: 1,
      description: `The stream throttled more than ${props.alarms.streamReadThrottledCalls} GetRecords calls in 5 minutes: more readers than the per-shard read limit. See docs/operations.md#streamreadthrottled.`,
    });

    // Set aside for an operator.
    this.alarm('IngestFailuresDlqDepth', {
      metric: props.onFailureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
      ...any,
      description: `The ingest mapping gave up on a batch. The OnFailure message only points into the stream: those records become UNRECOVERABLE when they pass the stream retention (${retentionText} after they arrived). Fix the cause, then replay while they are retained: ${redriveIngest}`,
    });
    this.alarm('InvalidRecordsDlqDepth', {
      metric: props.invalidRecordsQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
      ...any,
      description:
        'Ingest dead-lettered records it cannot store (invalid, or conflicting with a stored reading), with their payload and reason; kept 14 days. List them: npm run redrive -- ingest --dry-run. See docs/operations.md#invalidrecordsdlqdepth.',
    });
    this.alarm('EventsDlqDepth', {
      metric: props.eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
      ...any,
      description: `The writer failed to store derived events on each of their ${props.eventsMaxReceiveCount} receives; they wait in the events DLQ (14 days). Fix the cause, then: npm run redrive -- events --events-queue ${props.eventsQueue.queueUrl} --events-dlq ${props.eventsDeadLetterQueue.queueUrl}`,
    });
    this.alarm('IngestMappingOnFailure', {
      metric: mapping(props.mappings.ingest, 'OnFailureDestinationDeliveredEventCount'),
      ...any,
      description: `The ingest mapping sent records to its OnFailure queue (retries or record age exhausted). They become unrecoverable ${retentionText} after they arrived in the stream. See docs/operations.md#ingestmappingonfailure.`,
    });
    this.alarm('IngestMappingDropped', {
      metric: mapping(props.mappings.ingest, 'DroppedEventCount'),
      ...any,
      description:
        'The ingest mapping dropped records without delivering them to its OnFailure queue: they are lost from the pipeline. See docs/operations.md#ingestmappingdropped.',
    });

    // Work that is stuck.
    this.alarm('EventsQueueAge', {
      metric: props.eventsQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: MINUTE }),
      threshold: props.alarms.eventsQueueAgeSeconds,
      evaluationPeriods: 3,
      description: `A derived event has waited more than ${props.alarms.eventsQueueAgeSeconds} s in the events queue: the writer is down, throttled or failing. See docs/operations.md#eventsqueueage.`,
    });
    this.alarm('OutboxAge', {
      metric: app(MetricName.OutboxOldestAgeSeconds, 'Maximum', FIVE_MINUTES),
      threshold: props.alarms.outboxAgeSeconds,
      evaluationPeriods: 1,
      description: `A derived event has waited more than ${props.alarms.outboxAgeSeconds} s in the outbox: publishing to the events queue fails. See docs/operations.md#outboxage.`,
    });
    this.alarm('ConflictingReadings', {
      metric: app(MetricName.ConflictingReadings, 'Sum', FIVE_MINUTES),
      ...any,
      description:
        'A producer sent a reading with the identity of a stored one (source, fact, time) and different content; it was dead-lettered. See docs/operations.md#conflictingreadings.',
    });
    this.alarm('WriterWriteFailures', {
      metric: app(MetricName.DerivedEventsWriteFailed, 'Sum', FIVE_MINUTES),
      ...any,
      description: 'The writer could not store derived events (database unreachable?); the events queue retries them. See docs/operations.md#writerwritefailures.',
    });

    for (const [name, fn] of Object.entries(props.functions)) {
      const errorRate = new MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: {
          errors: fn.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES }),
          invocations: fn.metricInvocations({ statistic: 'Sum', period: FIVE_MINUTES }),
        },
        label: `${name} error rate (%)`,
        period: FIVE_MINUTES,
      });
      this.alarm(`${name}ErrorRate`, {
        metric: errorRate,
        threshold: props.alarms.errorRatePct,
        evaluationPeriods: 1,
        description: `${name}: more than ${props.alarms.errorRatePct}% of invocations failed in 5 minutes. See docs/operations.md#errorrate.`,
      });
      this.alarm(`${name}Throttles`, {
        metric: fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES }),
        ...any,
        description: `${name} was throttled: its reserved concurrency or the account's is used up. See docs/operations.md#throttles.`,
      });
    }

    const fns = Object.entries(props.functions);
    const graph = (title: string, left: IMetric[], width = 8): GraphWidget => new GraphWidget({ title, left, width, height: 6 });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      graph('Ingest records/s', [
        new MathExpression({ expression: 'records / PERIOD(records)', usingMetrics: { records: app(MetricName.RecordsIn) }, label: 'records/s', period: MINUTE }),
      ]),
      graph('Iterator age (ms)', [
        props.ingest.metric('IteratorAge', { statistic: 'Maximum', period: MINUTE, label: 'ingest IteratorAge max' }),
        props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: MINUTE, label: 'stream GetRecords max' }),
      ]),
      graph('Batch size (records per invocation)', [
        app(MetricName.RecordsIn, 'Average').with({ label: 'average' }),
        app(MetricName.RecordsIn, 'Maximum').with({ label: 'maximum' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Ingest mapping (events)', [
        mapping(props.mappings.ingest, 'PolledEventCount').with({ label: 'polled' }),
        mapping(props.mappings.ingest, 'InvokedEventCount').with({ label: 'invoked' }),
        mapping(props.mappings.ingest, 'FailedInvokeEventCount').with({ label: 'failed invoke' }),
        mapping(props.mappings.ingest, 'OnFailureDestinationDeliveredEventCount').with({ label: 'to OnFailure' }),
        mapping(props.mappings.ingest, 'DroppedEventCount').with({ label: 'dropped' }),
      ]),
      graph('Writer mapping (events)', [
        mapping(props.mappings.writer, 'PolledEventCount').with({ label: 'polled' }),
        mapping(props.mappings.writer, 'InvokedEventCount').with({ label: 'invoked' }),
        mapping(props.mappings.writer, 'FailedInvokeEventCount').with({ label: 'failed invoke' }),
        mapping(props.mappings.writer, 'DeletedEventCount').with({ label: 'deleted' }),
      ]),
      graph('Stream throttling (5 min)', [
        props.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum', period: FIVE_MINUTES, label: 'write (records)' }),
        props.stream.metricReadProvisionedThroughputExceeded({ statistic: 'Sum', period: FIVE_MINUTES, label: 'read (calls)' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Readings: written, late, duplicate, redelivered', [
        app(MetricName.ReadingsWritten),
        app(MetricName.LateReadings),
        app(MetricName.DuplicateReadings),
        app(MetricName.RedeliveredRecords),
      ]),
      graph('Rows inserted', [app(MetricName.RowsInserted)]),
      graph('Dead-lettered records (of which identity conflicts)', [app(MetricName.DeadLetteredRecords), app(MetricName.ConflictingReadings)]),
    );
    this.dashboard.addWidgets(
      graph('Derived events', [app(MetricName.DerivedEvents).with({ label: 'derived (ingest)' }), app(MetricName.DerivedEventsWritten).with({ label: 'written (writer)' })]),
      graph('Writer errors', [
        props.writer.metricErrors({ statistic: 'Sum', period: MINUTE, label: 'writer Errors' }),
        app(MetricName.DerivedEventsInvalid),
        app(MetricName.DerivedEventsWriteFailed),
        app(MetricName.DerivedEventsDuplicate),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Outbox', [
        app(MetricName.OutboxOldestAgeSeconds, 'Maximum').with({ label: 'oldest (s)' }),
        app(MetricName.OutboxPending, 'Maximum').with({ label: 'pending' }),
        app(MetricName.OutboxPublishFailed).with({ label: 'send refused (kept)' }),
      ]),
      graph('Events queue: oldest message (s)', [props.eventsQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: MINUTE })]),
      graph(
        'Dead-letter queue depths',
        (
          [
            ['IngestFailures (OnFailure)', props.onFailureQueue],
            ['InvalidRecords', props.invalidRecordsQueue],
            ['EventsDlq', props.eventsDeadLetterQueue],
          ] as const
        ).map(([label, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE, label })),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Duration p50 (ms)',
        fns.map(([name, fn]) => fn.metricDuration({ statistic: 'p50', period: FIVE_MINUTES, label: name })),
      ),
      graph(
        'Duration p99 (ms)',
        fns.map(([name, fn]) => fn.metricDuration({ statistic: 'p99', period: FIVE_MINUTES, label: name })),
      ),
      graph('Ingest batch duration (ms)', [
        app(MetricName.BatchDurationMs, 'p50', FIVE_MINUTES).with({ label: 'p50' }),
        app(MetricName.BatchDurationMs, 'p99', FIVE_MINUTES).with({ label: 'p99' }),
      ]),
    );
    if (props.proxyName) {
      // Proxy metrics are published per proxy instance behind the one name: Sum adds them up.
      const proxy = (metricName: string): Metric =>
        new Metric({ namespace: 'AWS/RDS', metricName, dimensionsMap: { ProxyName: props.proxyName ?? '' }, statistic: 'Sum', period: MINUTE });
      this.dashboard.addWidgets(
        graph('RDS Proxy: pinned connections', [proxy('DatabaseConnectionsCurrentlySessionPinned')], 12),
        graph('RDS Proxy: client connections', [proxy('ClientConnections')], 12),
      );
    }
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
  }

  private alarm(id: string, spec: AlarmSpec): void {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.alarmPrefix}-${id}`,
      metric: spec.metric,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluationPeriods,
      comparisonOperator: spec.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: spec.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
