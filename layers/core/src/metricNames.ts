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
  RecordsIn: 'RecordsIn',
  ValidRecords: 'ValidRecords',
  InvalidRecords: 'InvalidRecords',
  RedeliveredSkipped: 'RedeliveredSkipped',
  MergedRows: 'MergedRows',
  RowsInserted: 'RowsInserted',
  DuplicatesSkipped: 'DuplicatesSkipped',
  DerivedEvents: 'DerivedEvents',
  BatchDurationMs: 'BatchDurationMs',
  /** True duplicates (same reading, same content) skipped. */
  DuplicateReadings: 'DuplicateReadings',
  /** Distinct readings older than their series' newest stored reading (written, counted). */
  LateReadings: 'LateReadings',
  /** Same reading identity, different content: dead-lettered. */
  ConflictingReadings: 'ConflictingReadings',
  /** Lambda redeliveries of records an earlier delivery already committed. */
  RedeliveredRecords: 'RedeliveredRecords',
  // the transactional outbox (ingest and maintenance)
  /** Age of the oldest derived event not yet published, in seconds (0 when the outbox is empty). */
  OutboxOldestAgeSeconds: 'OutboxOldestAgeSeconds',
  OutboxPending: 'OutboxPending',
  // writer
  DerivedEventsWritten: 'DerivedEventsWritten',
  DerivedEventsDuplicate: 'DerivedEventsDuplicate',
  DerivedEventsInvalid: 'DerivedEventsInvalid',
  DerivedEventsWriteFailed: 'DerivedEventsWriteFailed',
  // simulator
  SimulatorRecordsProduced: 'SimulatorRecordsProduced',
  SimulatorRecordsSent: 'SimulatorRecordsSent',
  SimulatorRecordsFailed: 'SimulatorRecordsFailed',
  SimulatorRecordsRetried: 'SimulatorRecordsRetried',
  SimulatorRecordsThrottled: 'SimulatorRecordsThrottled',
  // maintenance
  RollupBucketsWritten: 'RollupBucketsWritten',
  OeeSnapshotsWritten: 'OeeSnapshotsWritten',
  PartitionsDropped: 'PartitionsDropped',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];
