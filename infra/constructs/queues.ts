import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { InfraConfigError } from './errors.ts';

// Dead letters are evidence: keep them as long as SQS allows.
const DLQ_RETENTION = Duration.days(14);

export class QueueConfigError extends InfraConfigError {
  override readonly name = 'QueueConfigError';
}

export interface DeadLetterQueueProps {
  /**
   * What lands here and who puts it there; becomes the acknowledgement reason for cdk-nag's
   * "queue without its own DLQ" rule, since a dead-letter queue is the end of the line.
   */
  readonly holds: string;
  /**
   * Whether a RedrivePolicy of another queue in this stack points here (cdk-nag then recognises it
   * as a DLQ by itself).
   * @default false
   */
  readonly isRedriveTarget?: boolean;
  /**
   * What `cdk destroy` or a replacement does with the queue and the messages in it.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** A terminal queue: encrypted at rest (SSE-SQS), TLS-only, 14 days retention. */
export class DeadLetterQueue extends Construct {
  public readonly queue: Queue;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    if (props.holds.trim().length < 10) throw new QueueConfigError(`${id}: say what the dead-letter queue holds`);
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DLQ_RETENTION,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    if (!props.isRedriveTarget) {
      Validations.of(this.queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself a dead-letter destination: ${props.holds}`,
      });
    }
  }
}

export interface RedrivenQueueProps {
  /** SQS visibility timeout; AWS asks for >= 6 x the consumer's timeout + batching window. */
  readonly visibilityTimeout: Duration;
  /** Receives before a message moves to the dead-letter queue (AWS recommends >= 5). */
  readonly maxReceiveCount: number;
  /** What the dead-letter queue holds (see DeadLetterQueueProps.holds). */
  readonly deadLetterHolds: string;
  /**
   * Removal policy of the dead-letter queue. The work queue itself is always destroyed: its
   * messages are in flight and come back from the outbox or the stream.
   * @default RemovalPolicy.DESTROY
   */
  readonly deadLetterRemovalPolicy?: RemovalPolicy;
}

/** A work queue whose poison messages move to its own dead-letter queue after maxReceiveCount receives. */
export class RedrivenQueue extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: RedrivenQueueProps) {
    super(scope, id);
    if (!Number.isInteger(props.maxReceiveCount) || props.maxReceiveCount < 1 || props.maxReceiveCount > 1_000) {
      throw new QueueConfigError(`${id}: maxReceiveCount must be 1..1000, got ${props.maxReceiveCount}`);
    }
    const seconds = props.visibilityTimeout.toSeconds();
    if (seconds > 43_200) throw new QueueConfigError(`${id}: visibility timeout must be <= 12 h, got ${seconds} s`);
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetter', {
      holds: props.deadLetterHolds,
      isRedriveTarget: true,
      removalPolicy: props.deadLetterRemovalPolicy,
    }).queue;
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
