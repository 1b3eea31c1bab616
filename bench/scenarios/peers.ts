import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type pg from 'pg';
import { TelemetryRecordSchema, type TelemetryRecord } from '#core/record';
import { chunk } from '#core/chunks';

/**
 * What a good engineer writes by hand from the ecosystem's parts, as issue 13 describes it: the
 * Powertools BatchProcessor with zod per record, then one `INSERT ... SELECT FROM unnest($1, ...)
 * ON CONFLICT DO NOTHING` per 5,000 rows on a pg pool (parameters: the extended protocol, which
 * pins an RDS Proxy connection). `compacted` keeps the last write per (source, fact) first, as
 * Kafka Connect's JDBC sink does. Neither counts duplicates, keeps spikes, derives events, nor
 * knows a resend from a new reading: this is the speed to beat, not the behaviour to match.
 */
const CHUNK = 5_000;
const INSERT = `INSERT INTO telemetry_events (ts, source, fact_name, value_float, value_bool, value_str, sample_count, event_id)
  SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::float8[], $5::bool[], $6::text[], $7::int[], $8::text[])
  ON CONFLICT (source, fact_name, ts) DO NOTHING`;

export function peerHandler(pool: pg.Pool, compacted: boolean): (event: KinesisStreamEvent) => Promise<unknown> {
  return async (event) => {
    const records: TelemetryRecord[] = [];
    const processor = new BatchProcessor(EventType.KinesisDataStreams);
    const handleRecord = async (r: KinesisStreamRecord) => {
      records.push(TelemetryRecordSchema.parse(JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8'))));
    };
    const response = await processPartialResponse(event, handleRecord, processor);
    const rows = compacted ? lastWritePerKey(records) : records;
    for (const part of chunk(rows, { maxItems: CHUNK })) {
      await pool.query(INSERT, [
        part.map((r) => r.ts),
        part.map((r) => r.source),
        part.map((r) => r.fact),
        part.map((r) => (typeof r.value === 'number' ? r.value : typeof r.value === 'boolean' ? Number(r.value) : null)),
        part.map((r) => (typeof r.value === 'boolean' ? r.value : null)),
        part.map((r) => (typeof r.value === 'string' ? r.value : null)),
        part.map(() => 1),
        part.map((r) => r.id),
      ]);
    }
    return response;
  };
}

function lastWritePerKey(records: readonly TelemetryRecord[]): TelemetryRecord[] {
  const last = new Map<string, TelemetryRecord>();
  for (const r of records) {
    const key = `${r.source}\u0000${r.fact}`;
    const seen = last.get(key);
    if (!seen || Date.parse(r.ts) >= Date.parse(seen.ts)) last.set(key, r);
  }
  return [...last.values()];
}
