import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StageConfig } from '#config/stages';
import { METRICS_NAMESPACE, METRICS_SERVICE } from './tapline-function.ts';
import { InfraConfigError } from './errors.ts';

export interface ObservabilityProps {
  /** Stage name, for the topic's display name and the key description. */
  readonly stage: string;
  /** Thresholds and the optional e-mail address, from the stage config. */
  readonly alarms: StageConfig['alarms'];
  /** Stream retention; the iterator-age threshold must stay well inside it. */
  readonly streamRetentionHours: number;
  /** The Kinesis consumer. */
  readonly ingest: IFunction;
  /** The events-queue consumer. */
  readonly writer: IFunction;
  /** Every function whose errors and throttles are alarmed, by display name (ingest and writer included). */
  readonly functions: Record<string, IFunction>;
  /** The telemetry stream, for its GetRecords iterator age. */
  readonly stream: IStream;
  /** Every dead-letter queue, by display name: any message in one raises an alarm. */
  readonly deadLetterQueues: Record<string, IQueue>;
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

/** Alarms to one encrypted SNS topic, and one dashboard for the stage. */
export class Observability extends Construct {
  public readonly topic: Topic;
  public readonly dashboard: Dashboard;
  public readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const retentionMs = props.streamRetentionHours * 3_600_000;
    if (props.alarms.iteratorAgeMs >= retentionMs / 2) {
      throw new ObservabilityConfigError(
        `alarms.iteratorAgeMs (${props.alarms.iteratorAgeMs}) must be well under half the stream retention (${retentionMs / 2} ms), or records expire before anyone is told`,
      );
    }
    if (Object.keys(props.deadLetterQueues).length === 0) throw new ObservabilityConfigError('no dead-letter queues to watch');

    // CloudWatch alarms can publish to an encrypted topic only with a customer-managed key that lets them.
    const key = new Key(this, 'TopicKey', {
      description: `tapline ${props.stage} alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'Topic', { displayName: `tapline ${props.stage} alarms`, masterKey: key, enforceSSL: true });
    if (props.alarms.email) this.topic.addSubscription(new EmailSubscription(props.alarms.email));

    const app = (metricName: string, statistic = 'Sum', period = MINUTE): Metric =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: METRICS_SERVICE }, statistic, period });

    this.alarm('IngestIteratorAge', {
      metric: props.ingest.metric('IteratorAge', { statistic: 'Maximum', period: MINUTE }),
      threshold: props.alarms.iteratorAgeMs,
      evaluationPeriods: 3,
      description: 'Ingest is falling behind the stream: records age towards expiry.',
    });
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(`${name}Depth`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${name} holds messages: something failed for good and needs a look.`,
      });
    }
    // The writer reports a failed database write per message (so SQS retries exactly those) instead of
    // throwing, which keeps its Errors metric at zero during an outage: alarm on its own metric.
    this.alarm('WriterWriteFailures', {
      metric: app('DerivedEventsWriteFailed', 'Sum', FIVE_MINUTES),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: 'The writer could not store derived events (database unreachable?); they are being retried.',
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
        description: `${name}: more than ${props.alarms.errorRatePct}% of invocations failed.`,
      });
      this.alarm(`${name}Throttles`, {
        metric: fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${name} was throttled.`,
      });
    }

    const recordsIn = app('RecordsIn');
    const fns = Object.entries(props.functions);
    const graph = (title: string, left: IMetric[], width = 8): GraphWidget => new GraphWidget({ title, left, width, height: 6 });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      graph('Ingest records/s', [
        new MathExpression({ expression: 'records / PERIOD(records)', usingMetrics: { records: recordsIn }, label: 'records/s', period: MINUTE }),
      ]),
      graph('Iterator age (ms)', [
        props.ingest.metric('IteratorAge', { statistic: 'Maximum', period: MINUTE, label: 'ingest IteratorAge max' }),
        props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: MINUTE, label: 'stream GetRecords max' }),
      ]),
      graph('Batch size (records per invocation)', [
        app('RecordsIn', 'Average').with({ label: 'average' }),
        app('RecordsIn', 'Maximum').with({ label: 'maximum' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Readings written, late, duplicate, redelivered', [app('ReadingsWritten'), app('LateReadings'), app('DuplicateReadings'), app('RedeliveredRecords')]),
      graph('Rows inserted', [app('RowsInserted')]),
      graph('Dead-lettered records (of which identity conflicts)', [app('DeadLetteredRecords'), app('ConflictingReadings')]),
    );
    this.dashboard.addWidgets(
      graph('Derived events', [app('DerivedEvents').with({ label: 'derived (ingest)' }), app('DerivedEventsWritten').with({ label: 'written (writer)' })]),
      graph('Writer errors', [
        props.writer.metricErrors({ statistic: 'Sum', period: MINUTE, label: 'writer Errors' }),
        app('DerivedEventsInvalid'),
        app('DerivedEventsWriteFailed'),
        app('DerivedEventsDuplicate'),
      ]),
      graph(
        'Dead-letter queue depths',
        Object.entries(props.deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE, label: name }),
        ),
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
        app('BatchDurationMs', 'p50', FIVE_MINUTES).with({ label: 'p50' }),
        app('BatchDurationMs', 'p99', FIVE_MINUTES).with({ label: 'p99' }),
      ]),
    );
    if (props.proxyName) {
      const proxy = (metricName: string): Metric =>
        new Metric({ namespace: 'AWS/RDS', metricName, dimensionsMap: { ProxyName: props.proxyName ?? '' }, statistic: 'Maximum', period: MINUTE });
      this.dashboard.addWidgets(
        graph('RDS Proxy: pinned connections', [proxy('DatabaseConnectionsCurrentlySessionPinned')], 12),
        graph('RDS Proxy: client connections', [proxy('ClientConnections')], 12),
      );
    }
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
  }

  private alarm(
    id: string,
    props: { metric: IMetric; threshold: number; evaluationPeriods: number; description: string; comparisonOperator?: ComparisonOperator },
  ): void {
    const alarm = new Alarm(this, id, {
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods,
      comparisonOperator: props.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: props.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
