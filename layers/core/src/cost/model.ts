import { ENVELOPE_MAX_BYTES } from '../eventsMessage.ts';
import { aggregateDataBytes, recordsPerAggregate } from '../kpl/aggregate.ts';
import { GIB, HOURS_PER_MONTH, PRICES, SECONDS_PER_MONTH, type PriceTable } from './prices.ts';

/**
 * Monthly AWS cost of a tapline deployment at a steady event rate. Pure: the deployment shape, the
 * measured ingest cost per batch and the price table go in, cost lines come out. Every line says
 * whether it grows with the event rate (variable) or is paid at any rate (fixed).
 */
export interface CostDeployment {
  stage: string;
  stream: { mode: 'on-demand' | 'provisioned'; shards: number; retentionHours: number };
  ingest: { batchSize: number; batchWindowSeconds: number; memoryMb: number };
  writer: { batchSize: number; batchWindowSeconds: number; memoryMb: number };
  database: { mode: 'rds'; instanceClass: string; allocatedStorageGb: number; multiAz: boolean } | { mode: 'external' } | { mode: 'embedded' };
  logRetentionDays: number;
  /** Fixed observability pieces (infra/constructs/observability.ts). */
  observability: { alarmMetrics: number; dashboards: number; customMetrics: number };
  /** Interface VPC endpoints x availability zones; functions run in the VPC only in rds mode. */
  vpc: { interfaceEndpoints: number; availabilityZones: number };
  /** The scheduled simulator (test load on dev and staging); scheduleMinutes 0 = not scheduled. */
  simulator: { scheduleMinutes: number; durationSeconds: number; memoryMb: number };
  /** Customer-managed keys (the alarm topic's). */
  kmsKeys: number;
}

/** What one ingest invocation costs in time, from `npm run bench` (or documented defaults). */
export interface IngestProfile {
  /** CPU per record (decode, validation, merge, glue), on one full core. */
  perRecordMs: number;
  /** Per invocation whatever the batch size: SQL round trips, derive, publish. */
  perBatchMs: number;
  /** Messages to the database and back per invocation: each pays the network hop. */
  roundTripsPerBatch: number;
  derivedEventsPerRecord: number;
  source: string;
}

/**
 * KPL aggregation (kpl/aggregate.ts): the producer flushes every `flushSeconds`, one aggregate per
 * partition key and flush, each up to one 25 KiB PUT payload unit.
 */
export interface Aggregation {
  partitionKeys: number;
  flushSeconds: number;
  partitionKeyBytes: number;
}

export interface CostInputs {
  eventsPerSecond: number;
  /** Average reading as JSON: a Kinesis record's data when not aggregated. */
  recordBytes: number;
  /** Absent: one Kinesis record per reading. */
  aggregation?: Aggregation;
  deployment: CostDeployment;
  profile: IngestProfile;
  /** Extra time per round trip in AWS (Lambda -> RDS Proxy -> RDS) over the local bench's loopback. */
  networkMsPerRoundTrip?: number;
  /** Force the readings per ingest invocation (batch-size what-ifs); default: from rate, window and BatchSize. */
  recordsPerInvocation?: number;
}

export type CostComponent = 'Kinesis' | 'Lambda' | 'SQS' | 'Database' | 'CloudWatch' | 'VPC endpoints';

export interface CostLine {
  component: CostComponent;
  item: string;
  kind: 'fixed' | 'variable';
  monthlyUsd: number;
  basis: string;
}

export interface CostEstimate {
  eventsPerSecond: number;
  eventsPerMonth: number;
  lines: CostLine[];
  fixedMonthlyUsd: number;
  variableMonthlyUsd: number;
  totalMonthlyUsd: number;
  /** Variable cost per million events: what one more event costs. */
  variablePerMillionUsd: number;
  totalPerMillionUsd: number;
  /** What the stream carries: one reading per record, or aggregates of several. */
  kinesis: { aggregated: boolean; recordsPerSecond: number; readingsPerRecord: number; recordBytes: number };
  /** recordsPerInvocation counts readings (an aggregated Kinesis record holds several). */
  ingest: { shards: number; recordsPerInvocation: number; invocationsPerSecond: number; billedMs: number };
  warnings: string[];
}

export class CostInputError extends Error {
  override readonly name = 'CostInputError';
}

/** Lambda gives a function one full vCPU at 1,769 MB and a proportional share below. */
const FULL_VCPU_MB = 1_769;
const SHARD_RECORDS_PER_SECOND = 1_000;
const SHARD_BYTES_PER_SECOND = 1024 * 1024;
/** ESM polls a shard about once a second, so without a window a batch holds about 1 s of records. */
const MIN_GATHER_SECONDS = 1;
/** Lambda to RDS Proxy to the database and back, in one region and VPC, over the local loopback. */
const NETWORK_MS_PER_ROUND_TRIP = 0.5;
/**
 * Log bytes per ingest invocation: Lambda's START, END and REPORT lines (about 450 B) and the
 * handler's EMF metrics line (about 1,100 B with its 14 metrics); its report line only when a
 * batch dead-letters records or leaves messages in the outbox.
 */
const INGEST_LOG_BYTES = 1_550;
const WRITER_LOG_BYTES = 1_200;
const DERIVED_EVENT_BYTES = 400;
const WRITER_PER_BATCH_MS = 15;
const WRITER_PER_EVENT_MS = 0.3;
/** The SQS event source mapping long-polls with 5 pollers even when idle (20 s waits). */
const SQS_IDLE_RECEIVES_PER_MONTH = 5 * 3 * 60 * HOURS_PER_MONTH;

export function estimateCost(inputs: CostInputs, prices: PriceTable = PRICES): CostEstimate {
  const { eventsPerSecond: rate, recordBytes, deployment: d, profile } = inputs;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new CostInputError(`events per second must be a positive number, got ${rate}`);
  if (!(recordBytes > 0)) throw new CostInputError(`record size must be positive, got ${recordBytes}`);
  const lines: CostLine[] = [];
  const warnings: string[] = [];
  const add = (component: CostComponent, item: string, kind: CostLine['kind'], monthlyUsd: number, basis: string) => lines.push({ component, item, kind, monthlyUsd, basis });
  const perMonth = (perSecond: number) => perSecond * SECONDS_PER_MONTH;
  const eventsPerMonth = perMonth(rate);

  // Kinesis: priced per Kinesis record, which is a reading or an aggregate of several
  const k = prices.kinesis;
  const stream = kinesisRecords(rate, recordBytes, inputs.aggregation);
  const kinesisRecordsPerMonth = perMonth(stream.recordsPerSecond);
  const bytesPerSecond = stream.recordsPerSecond * stream.recordBytes;
  const neededShards = Math.ceil(Math.max(stream.recordsPerSecond / SHARD_RECORDS_PER_SECOND, bytesPerSecond / SHARD_BYTES_PER_SECOND));
  let shards = d.stream.shards;
  if (d.stream.mode === 'provisioned') {
    if (neededShards > shards) {
      warnings.push(`${rate} events/s needs ${neededShards} shards; the stage has ${shards}. Priced with ${neededShards}.`);
      shards = neededShards;
    }
    add('Kinesis', `${shards} shards (provisioned)`, 'fixed', shards * HOURS_PER_MONTH * k.shardHour, `${shards} x ${HOURS_PER_MONTH} h x $${k.shardHour}`);
    const units = kinesisRecordsPerMonth * Math.ceil(stream.recordBytes / k.putPayloadUnitBytes);
    add(
      'Kinesis',
      `PUT payload units (${recordsLabel(stream)})`,
      'variable',
      (units / 1e6) * k.putPayloadUnitsPerMillion,
      `${fmtM(units)} units x $${k.putPayloadUnitsPerMillion}/M`,
    );
    if (d.stream.retentionHours > 24) {
      add(
        'Kinesis',
        `retention ${d.stream.retentionHours} h`,
        'fixed',
        shards * HOURS_PER_MONTH * k.extendedRetentionShardHour,
        `${shards} shards x $${k.extendedRetentionShardHour}/shard-h`,
      );
    }
    if (d.stream.retentionHours > 168) {
      const storedGb = (bytesPerSecond * (d.stream.retentionHours - 168) * 3600) / GIB;
      add('Kinesis', 'retention beyond 7 days', 'variable', storedGb * k.longTermRetentionGbMonth, `${storedGb.toFixed(1)} GB x $${k.longTermRetentionGbMonth}`);
    }
  } else {
    // On demand, shards are AWS's business; the ESM still batches per shard (assume the minimum 4).
    shards = Math.max(4, neededShards);
    add('Kinesis', 'on-demand stream', 'fixed', HOURS_PER_MONTH * k.onDemandStreamHour, `${HOURS_PER_MONTH} h x $${k.onDemandStreamHour}`);
    const billedBytes = Math.ceil(stream.recordBytes / k.onDemandBillingUnitBytes) * k.onDemandBillingUnitBytes;
    const gb = (kinesisRecordsPerMonth * billedBytes) / GIB;
    add('Kinesis', `data in (${recordsLabel(stream)}, each rounded up to whole KiB)`, 'variable', gb * k.onDemandDataInPerGb, `${gb.toFixed(0)} GB x $${k.onDemandDataInPerGb}`);
    add('Kinesis', 'data out (ingest ESM)', 'variable', gb * k.onDemandDataOutPerGb, `${gb.toFixed(0)} GB x $${k.onDemandDataOutPerGb}`);
    if (d.stream.retentionHours > 24) {
      const storedGb = (stream.recordsPerSecond * billedBytes * (Math.min(d.stream.retentionHours, 168) - 24) * 3600) / GIB;
      add(
        'Kinesis',
        `retention ${d.stream.retentionHours} h`,
        'variable',
        storedGb * k.onDemandExtendedRetentionGbMonth,
        `${storedGb.toFixed(0)} GB x $${k.onDemandExtendedRetentionGbMonth}`,
      );
    }
  }

  // Lambda: ingest
  const l = prices.lambda;
  const gather = Math.max(d.ingest.batchWindowSeconds, MIN_GATHER_SECONDS);
  // BatchSize counts Kinesis records: an aggregated batch holds readingsPerRecord times more readings.
  const perInvocation = Math.max(1, Math.min(d.ingest.batchSize * stream.readingsPerRecord, inputs.recordsPerInvocation ?? (rate / shards) * gather));
  const ingestInvocations = rate / perInvocation;
  const cpuScale = Math.max(1, FULL_VCPU_MB / d.ingest.memoryMb);
  const ingestMs = Math.ceil(
    profile.perRecordMs * perInvocation * cpuScale + profile.perBatchMs + profile.roundTripsPerBatch * (inputs.networkMsPerRoundTrip ?? NETWORK_MS_PER_ROUND_TRIP),
  );
  const ingestGbSeconds = perMonth(ingestInvocations) * (ingestMs / 1000) * (d.ingest.memoryMb / 1024);
  add(
    'Lambda',
    `ingest compute (${Math.round(perInvocation)} readings, ${ingestMs} ms, ${d.ingest.memoryMb} MB)`,
    'variable',
    ingestGbSeconds * l.perGbSecond,
    `${fmtM(ingestGbSeconds)} GB-s x $${l.perGbSecond}`,
  );
  add('Lambda', 'ingest requests', 'variable', (perMonth(ingestInvocations) / 1e6) * l.requestsPerMillion, `${fmtM(perMonth(ingestInvocations))} x $${l.requestsPerMillion}/M`);

  // Lambda: writer, fed by the derived events, which travel in envelopes of a batch's events (ADR 0014)
  const derivedPerSecond = rate * profile.derivedEventsPerRecord;
  const derivedPerInvocation = derivedPerSecond / ingestInvocations;
  const envelopesPerSecond = Math.min(derivedPerSecond, ingestInvocations * Math.ceil((derivedPerInvocation * DERIVED_EVENT_BYTES) / ENVELOPE_MAX_BYTES));
  // The writer's BatchSize counts messages (envelopes); its time grows with the events they hold.
  const writerBatch = Math.max(1, Math.min(d.writer.batchSize, envelopesPerSecond * Math.max(d.writer.batchWindowSeconds, MIN_GATHER_SECONDS)));
  const writerInvocations = envelopesPerSecond / writerBatch;
  const eventsPerWriterInvocation = writerInvocations > 0 ? derivedPerSecond / writerInvocations : 0;
  const writerMs = Math.ceil(WRITER_PER_BATCH_MS + WRITER_PER_EVENT_MS * eventsPerWriterInvocation);
  const writerGbSeconds = perMonth(writerInvocations) * (writerMs / 1000) * (d.writer.memoryMb / 1024);
  add(
    'Lambda',
    'writer compute + requests',
    'variable',
    writerGbSeconds * l.perGbSecond + (perMonth(writerInvocations) / 1e6) * l.requestsPerMillion,
    `${fmtM(perMonth(writerInvocations))} invocations`,
  );

  // SQS: one send of a batch's envelopes by ingest (SendMessageBatch bills each 64 KiB, an envelope's
  // most), received and deleted by the writer's ESM
  const sqsRequests = perMonth(envelopesPerSecond + 2 * writerInvocations);
  add('SQS', 'events queue requests', 'variable', (sqsRequests / 1e6) * prices.sqs.requestsPerMillion, `${fmtM(sqsRequests)} requests`);
  add('SQS', 'writer ESM idle long polling', 'fixed', (SQS_IDLE_RECEIVES_PER_MONTH / 1e6) * prices.sqs.requestsPerMillion, `${fmtM(SQS_IDLE_RECEIVES_PER_MONTH)} receives`);

  // Database
  const db = d.database;
  if (db.mode === 'rds') {
    const instance = prices.rds.instances[db.instanceClass];
    if (!instance) {
      throw new CostInputError(`no price for db.${db.instanceClass}; known: ${Object.keys(prices.rds.instances).join(', ')}`);
    }
    const copies = db.multiAz ? 2 : 1;
    add('Database', `RDS db.${db.instanceClass}${db.multiAz ? ' Multi-AZ' : ''}`, 'fixed', instance.hourly * copies * HOURS_PER_MONTH, `$${instance.hourly}/h x ${copies}`);
    add(
      'Database',
      `storage ${db.allocatedStorageGb} GB gp3`,
      'fixed',
      db.allocatedStorageGb * prices.rds.storageGbMonth * copies,
      `$${prices.rds.storageGbMonth}/GB-month x ${copies}`,
    );
    const vcpus = Math.max(instance.vcpus, prices.rds.proxyMinVcpus);
    add('Database', 'RDS Proxy', 'fixed', vcpus * prices.rds.proxyVcpuHour * HOURS_PER_MONTH, `${vcpus} vCPU x $${prices.rds.proxyVcpuHour}/h`);
    add('Database', 'Secrets Manager (DB secret)', 'fixed', prices.secretsManager.secretMonth, '1 secret');
    const e = prices.vpcEndpoint;
    const endpoints = d.vpc.interfaceEndpoints * d.vpc.availabilityZones;
    add('VPC endpoints', `${d.vpc.interfaceEndpoints} interface endpoints x ${d.vpc.availabilityZones} AZ`, 'fixed', endpoints * HOURS_PER_MONTH * e.azHour, `$${e.azHour}/AZ-h`);
    const processedGb = (perMonth(derivedPerSecond) * DERIVED_EVENT_BYTES) / GIB;
    add('VPC endpoints', 'data processed (SQS sends)', 'variable', processedGb * e.perGbProcessed, `${processedGb.toFixed(1)} GB`);
  } else if (db.mode === 'external') {
    add('Database', 'external database (billed by its provider, not here)', 'fixed', 0, 'not priced');
    add('Database', 'Secrets Manager (connection secret)', 'fixed', prices.secretsManager.secretMonth, '1 secret');
  } else {
    warnings.push('embedded database: local only, nothing to price');
  }

  // CloudWatch
  const cw = prices.cloudWatch;
  const logGbPerMonth = (perMonth(ingestInvocations) * INGEST_LOG_BYTES + perMonth(writerInvocations) * WRITER_LOG_BYTES) / GIB;
  add('CloudWatch', 'logs ingested (incl. EMF metrics)', 'variable', logGbPerMonth * cw.logsIngestedPerGb, `${logGbPerMonth.toFixed(2)} GB x $${cw.logsIngestedPerGb}`);
  const storedGb = logGbPerMonth * (d.logRetentionDays / 30);
  add('CloudWatch', `logs stored (${d.logRetentionDays} days)`, 'variable', storedGb * cw.logsStoredGbMonth, `${storedGb.toFixed(2)} GB x $${cw.logsStoredGbMonth}`);
  add('CloudWatch', `${d.observability.customMetrics} custom metrics`, 'fixed', d.observability.customMetrics * cw.customMetricMonth, `$${cw.customMetricMonth} each`);
  add('CloudWatch', `alarms (${d.observability.alarmMetrics} metrics)`, 'fixed', d.observability.alarmMetrics * cw.alarmMetricMonth, `$${cw.alarmMetricMonth} each`);
  add('CloudWatch', 'dashboard', 'fixed', d.observability.dashboards * cw.dashboardMonth, `$${cw.dashboardMonth} each`);

  // Scheduled simulator: a test load generator, paid whenever its schedule runs, whatever the rate
  const sim = d.simulator;
  if (sim.scheduleMinutes > 0) {
    const runs = (HOURS_PER_MONTH * 60) / sim.scheduleMinutes;
    const gbSeconds = runs * sim.durationSeconds * (sim.memoryMb / 1024);
    add('Lambda', `simulator every ${sim.scheduleMinutes} min (test load)`, 'fixed', gbSeconds * l.perGbSecond + (runs / 1e6) * l.requestsPerMillion, `${fmtM(gbSeconds)} GB-s`);
  }
  if (d.kmsKeys > 0) add('CloudWatch', 'KMS key for the alarm topic', 'fixed', d.kmsKeys * prices.kms.keyMonth, `$${prices.kms.keyMonth} each`);

  const sum = (kind?: CostLine['kind']) => lines.filter((x) => !kind || x.kind === kind).reduce((a, x) => a + x.monthlyUsd, 0);
  const variable = sum('variable');
  const total = sum();
  return {
    eventsPerSecond: rate,
    eventsPerMonth,
    lines,
    fixedMonthlyUsd: sum('fixed'),
    variableMonthlyUsd: variable,
    totalMonthlyUsd: total,
    variablePerMillionUsd: variable / (eventsPerMonth / 1e6),
    totalPerMillionUsd: total / (eventsPerMonth / 1e6),
    kinesis: stream,
    ingest: { shards, recordsPerInvocation: perInvocation, invocationsPerSecond: ingestInvocations, billedMs: ingestMs },
    warnings,
  };
}

/**
 * The Kinesis records a reading rate becomes. Aggregated, each partition key's readings of one flush
 * share a record, as many as fit one PUT payload unit: at 1,000 readings/s over 11 keys and 100 ms
 * flushes, about 9 readings per record.
 */
export function kinesisRecords(rate: number, recordBytes: number, aggregation: Aggregation | undefined): CostEstimate['kinesis'] {
  if (!aggregation) return { aggregated: false, recordsPerSecond: rate, readingsPerRecord: 1, recordBytes };
  const { partitionKeys, flushSeconds, partitionKeyBytes } = aggregation;
  if (!(partitionKeys >= 1 && flushSeconds > 0)) throw new CostInputError(`aggregation needs >= 1 partition key and a positive flush interval`);
  const dataBytes = Math.round(recordBytes);
  const perFlush = (rate * flushSeconds) / partitionKeys;
  const readingsPerRecord = Math.max(1, Math.min(recordsPerAggregate(dataBytes, partitionKeyBytes), perFlush));
  return { aggregated: true, recordsPerSecond: rate / readingsPerRecord, readingsPerRecord, recordBytes: aggregateDataBytes(readingsPerRecord, dataBytes, partitionKeyBytes) };
}

const recordsLabel = (s: CostEstimate['kinesis']): string =>
  !s.aggregated ? 'one record per reading' : `aggregated, ${s.readingsPerRecord.toFixed(1)} readings and ${Math.round(s.recordBytes).toLocaleString('en-US')} B per record`;

/**
 * The fewest records per ingest invocation that keep the variable cost at or under the target,
 * or undefined if even the largest batch does not. Cost per event falls as batches grow.
 */
export function minimumBatchForTarget(inputs: CostInputs, targetPerMillionUsd: number, maxBatch = 10_000): number | undefined {
  const at = (b: number) =>
    estimateCost({ ...inputs, deployment: { ...inputs.deployment, ingest: { ...inputs.deployment.ingest, batchSize: maxBatch } }, recordsPerInvocation: b }).variablePerMillionUsd;
  if (at(maxBatch) > targetPerMillionUsd) return undefined;
  let lo = 1;
  let hi = maxBatch;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) <= targetPerMillionUsd) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function fmtM(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}
