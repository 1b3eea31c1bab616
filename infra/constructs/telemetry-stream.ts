import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import type { StageConfig } from '#config/stages';
import { InfraConfigError } from './errors.ts';

export interface TelemetryStreamProps {
  /** Capacity mode, shard count (provisioned only) and retention, from the stage config. */
  readonly config: StageConfig['stream'];
  /**
   * What happens to the stream and its key when the stack is deleted.
   * @default RemovalPolicy.DESTROY (the stream is a buffer; the warehouse holds the data)
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class TelemetryStreamConfigError extends InfraConfigError {
  override readonly name = 'TelemetryStreamConfigError';
}

/**
 * The telemetry stream, KMS-encrypted at rest with the AWS managed `aws/kinesis` key: a customer
 * managed key would bill every producer and consumer call and buys nothing here (no cross-account
 * readers), and grants then need no KMS actions.
 */
export class TelemetryStream extends Construct {
  public readonly stream: Stream;

  constructor(scope: Construct, id: string, props: TelemetryStreamProps) {
    super(scope, id);
    const { mode, shards, retentionHours } = props.config;
    if (retentionHours < 24 || retentionHours > 8_760) {
      throw new TelemetryStreamConfigError(`stream retention must be 24..8760 hours, got ${retentionHours}`);
    }
    if (mode === 'provisioned' && (!Number.isInteger(shards) || shards < 1)) {
      throw new TelemetryStreamConfigError(`a provisioned stream needs a positive whole shard count, got ${shards}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.stream = new Stream(this, 'Stream', {
      streamMode: mode === 'on-demand' ? StreamMode.ON_DEMAND : StreamMode.PROVISIONED,
      shardCount: mode === 'provisioned' ? shards : undefined,
      retentionPeriod: Duration.hours(retentionHours),
      encryption: StreamEncryption.MANAGED,
      removalPolicy,
    });
  }
}
