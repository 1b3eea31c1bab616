/**
 * tapline's custom CloudWatch metrics: the handlers emit these names (through the Metrics of
 * observability.ts), and infra/constructs/observability.ts graphs and alarms on the same ones, so a
 * renamed metric cannot leave an alarm watching nothing. Every metric carries the dimensions
 * `service` = METRICS_SERVICE and `stage` = the function's STAGE, so stages sharing an account
 * have alarms of their own.
 */
export const METRICS_NAMESPACE = 'Tapline';
export const METRICS_SERVICE = 'tapline';

export const MetricName = {
  // ingest: one value per batch
  // Every record lands in exactly one of ReadingsWritten, DuplicateReadings, RedeliveredRecords
  // and DeadLetteredRecords (docs/guarantees.md).
  /** Records after unpacking KPL aggregates: the readings a batch held (a corrupt aggregate is one). */
  RecordsIn: 'RecordsIn',
  /** Kinesis records as Lambda delivered them (an aggregate is one). */
  KinesisRecordsIn: 'KinesisRecordsIn',
  /** Distinct readings stored. */
  ReadingsWritten: 'ReadingsWritten',
  /** Of ReadingsWritten: older than their series' newest stored reading. */
  LateReadings: 'LateReadings',
  /** True duplicates (a producer's resend of a stored reading, same content) skipped. */
  DuplicateReadings: 'DuplicateReadings',
  /** Lambda redeliveries of records an earlier delivery already committed. */
  RedeliveredRecords: 'RedeliveredRecords',
  /** Dead-letter entries added (invalid records, identity conflicts, readings past retention). */
  DeadLetteredRecords: 'DeadLetteredRecords',
  /** Of DeadLetteredRecords: same reading identity as a stored one, different id or value. */
  ConflictingReadings: 'ConflictingReadings',
  RowsInserted: 'RowsInserted',
  DerivedEvents: 'DerivedEvents',
  BatchDurationMs: 'BatchDurationMs',
  // the transactional outbox (ingest and maintenance)
  /** Age of the oldest message (derived event or dead letter) not yet sent, in seconds (0 when none). */
  OutboxOldestAgeSeconds: 'OutboxOldestAgeSeconds',
  OutboxPending: 'OutboxPending',
  /** Messages a queue refused; they stay in the outbox and are sent again. */
  OutboxPublishFailed: 'OutboxPublishFailed',
  // writer
  DerivedEventsWritten: 'DerivedEventsWritten',
  DerivedEventsDuplicate: 'DerivedEventsDuplicate',
  DerivedEventsInvalid: 'DerivedEventsInvalid',
  DerivedEventsWriteFailed: 'DerivedEventsWriteFailed',
  // simulator: Produced, Sent and Failed count readings; KinesisRecordsPut, Retried and Throttled count
  // Kinesis records (one per aggregate when the simulator aggregates)
  SimulatorRecordsProduced: 'SimulatorRecordsProduced',
  SimulatorRecordsSent: 'SimulatorRecordsSent',
  SimulatorRecordsFailed: 'SimulatorRecordsFailed',
  SimulatorKinesisRecordsPut: 'SimulatorKinesisRecordsPut',
  SimulatorRecordsRetried: 'SimulatorRecordsRetried',
  SimulatorRecordsThrottled: 'SimulatorRecordsThrottled',
  // maintenance
  RollupBucketsWritten: 'RollupBucketsWritten',
  OeeSnapshotsWritten: 'OeeSnapshotsWritten',
  PartitionsDropped: 'PartitionsDropped',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];
