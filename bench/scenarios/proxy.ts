import pg from 'pg';
import { connectDatabase } from '#core/db/connect';
import { MAX_STATEMENT_BYTES } from '#core/db/sqlText';
import { readEnv } from '#core/env';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { ingestBatch } from '#core/ingest/ingestBatch';
import { TelemetryRecordSchema } from '#core/record';
import { breweryRuleSet } from '#core/rules/brewery';
import { frontendTap, PIN_BYTES, summarizeWire, type FrontendMessage } from '../../test/helpers/pgWire.ts';
import { startTcpProxy } from '../../test/helpers/tcpProxy.ts';
import type { IngestBenchOptions } from './ingest.ts';
import { peerHandler } from './peers.ts';

export interface PathWire {
  path: string;
  queries: number;
  /** Parse messages: extended protocol (prepared or parameterised statements) = pinning. */
  parses: number;
  maxQueryBytes: number;
  /** What would pin (test/helpers/pgWire.ts), `reason: statement` each. */
  pinning: string[];
  byType: Record<string, number>;
  /** Nothing that pins, and every statement under MAX_STATEMENT_BYTES (the writers' own margin below PIN_BYTES). */
  proxyFriendly: boolean;
}

const summarize = (path: string, messages: readonly FrontendMessage[]): PathWire => {
  const w = summarizeWire(messages);
  return {
    path,
    queries: w.queries,
    parses: w.parses,
    maxQueryBytes: w.maxQueryBytes,
    pinning: w.pins.map((p) => `${p.reason}: ${p.statement}`),
    byType: w.byType,
    proxyFriendly: w.pins.length === 0 && w.maxQueryBytes < Math.min(MAX_STATEMENT_BYTES, PIN_BYTES),
  };
};

/**
 * Runs one merge batch and one raw batch through the real ingestBatch over a pool whose every byte
 * passes a wire tap on a TCP proxy, then the naive per-row handler for contrast (it must show Parse
 * messages, which proves the counter sees the extended protocol).
 */
export async function runProxyCheck(
  o: Pick<IngestBenchOptions, 'databaseUrl' | 'sqs' | 'deadLetterQueueUrl' | 'eventsQueueUrl' | 'window' | 'batches' | 'batchSize'>,
): Promise<PathWire[]> {
  const target = new URL(o.databaseUrl);
  const wire = frontendTap();
  const proxy = await startTcpProxy({ targetPort: Number(target.port), tap: wire.tap });
  const viaProxy = new URL(o.databaseUrl);
  viaProxy.port = String(proxy.port);
  const db = await connectDatabase(readEnv({ DATABASE_URL: viaProxy.href }));
  const out: PathWire[] = [];
  try {
    for (const mode of ['merge', 'raw'] as const) {
      const batch = o.batches.next(o.batchSize, `shardId-proxy-${mode}`);
      wire.reset();
      await ingestBatch(batch.records, {
        store: pgIngestStore(db),
        sqs: o.sqs,
        queues: { events: o.eventsQueueUrl, 'ingest-dlq': o.deadLetterQueueUrl },
        ruleSet: breweryRuleSet,
        window: o.window,
        mode,
      });
      out.push(summarize(`ingest ${mode} (${o.batchSize} records)`, wire.messages()));
    }
    const naive = o.batches.next(100, 'shardId-proxy-naive');
    const client = new pg.Client({ connectionString: viaProxy.href });
    await client.connect();
    wire.reset();
    try {
      for (const r of naive.records) {
        const record = TelemetryRecordSchema.parse(JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')));
        await client.query(
          `INSERT INTO telemetry_events (ts, source, fact_name, value_str, sample_count, event_id)
           VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (source, fact_name, ts) DO NOTHING`,
          [record.ts, record.source, record.fact, String(record.value), record.id],
        );
      }
      out.push(summarize('naive per-row INSERT (100 records, contrast)', wire.messages()));
    } finally {
      await client.end();
    }
    // The peers of the ingest bench: parameterised unnest INSERTs, the extended protocol.
    const pool = new pg.Pool({ connectionString: viaProxy.href, max: 1 });
    try {
      for (const compacted of [false, true]) {
        const batch = o.batches.next(o.batchSize, `shardId-proxy-peer-${compacted ? 'compacted' : 'raw'}`);
        wire.reset();
        await peerHandler(pool, compacted)(batch.event);
        out.push(summarize(`peer ${compacted ? 'compacted' : 'raw'} (${o.batchSize} records)`, wire.messages()));
      }
    } finally {
      await pool.end();
    }
  } finally {
    await db.end();
    await proxy.stop();
  }
  return out;
}
