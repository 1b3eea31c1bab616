import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { ingestBatch } from '#core/ingest/ingestBatch';
import type { IngestStore } from '#core/ingest/store';
import { loadRuleSet } from '#core/rules/ruleSet';
import { ENGINES, type Engine } from '../helpers/engines.ts';
import { recordingSqs } from '../helpers/memoryIngestStore.ts';
import { streamRecord, telemetry } from '../helpers/records.ts';

const ruleSet = loadRuleSet({ version: 'c.1', rules: [{ id: 'never', description: 'never fires', when: [{ fact: 'temperature_c', op: '>', value: 1e300 }] }] });
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };

/**
 * The store, with the first transaction held once it holds its sources' locks (after the load for
 * a known source, after the lookup that creates a new one) until `release` resolves.
 */
function holdingFirst(store: IngestStore, at: 'load' | 'lookup', release: Promise<void>, holding: () => void): IngestStore {
  let first = true;
  const hold = async <T>(held: boolean, result: T): Promise<T> => {
    if (held) {
      holding();
      await release;
    }
    return result;
  };
  return {
    ...store,
    transaction: (work) =>
      store.transaction((tx) => {
        const held = first;
        first = false;
        return work({
          ...tx,
          load: async (sources, positions) => hold(held && at === 'load', await tx.load(sources, positions)),
          lookup: async (newSources, minutes) => hold(held && at === 'lookup', await tx.lookup(newSources, minutes)),
        });
      }),
  };
}

/** Resolves once a backend of this database waits for a row lock (the second window, queued behind the first). */
async function someoneWaitsForALock(url: string, gaveUp: () => boolean): Promise<boolean> {
  const monitor = new pg.Client({ connectionString: url });
  await monitor.connect();
  try {
    for (;;) {
      const { rows } = await monitor.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if ((rows[0]?.n ?? 0) > 0) return true;
      if (gaveUp()) return false;
      await new Promise((ok) => setImmediate(ok));
    }
  } finally {
    await monitor.end();
  }
}

describe.each(ENGINES.filter((e) => e.name !== 'PGlite TimescaleDB'))('two overlapping windows of one shard at once, on $name', ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());

  it.each([
    ['merge', 'known'],
    ['raw', 'known'],
    ['merge', 'new'],
    ['raw', 'new'],
  ] as const)('count the overlap once (%s mode, %s source): the second waits for the first, then sees its readings as stored', async (mode, source) => {
    // Prepare: the first delivery holds records 1-6 of a key, the second 4-10 (a replaced mapping's
    // new consumer starting from an older checkpoint while the old one still runs).
    await engine.db.exec('TRUNCATE telemetry_events, ingest_checkpoint, ingest_source, rule_state, outbox');
    const records = Array.from({ length: 10 }, (_, i) => streamRecord(telemetry({ value: i }, -20_000 + i * 1_000), 5_000 + i));
    const sqs = recordingSqs();
    const deps = { sqs: sqs.client, queues, ruleSet, window: { maxPastSeconds: 3_600, maxFutureSeconds: 300 }, mode };
    if (source === 'known') await ingestBatch([streamRecord(telemetry({ value: -1 }, -25_000), 4_000)], { ...deps, store: pgIngestStore(engine.db) });
    let release!: () => void;
    const released = new Promise<void>((ok) => (release = ok));
    let firstHolding!: () => void;
    const holding = new Promise<void>((ok) => (firstHolding = ok));
    const store = holdingFirst(pgIngestStore(engine.db), source === 'known' ? 'load' : 'lookup', released, firstHolding);
    const ingest = (batch: typeof records) => ingestBatch(batch, { ...deps, store });

    // Act: the second starts while the first holds its sources; the first goes on once the second
    // is blocked (correct) or got through (what a missing lock would allow).
    const first = ingest(records.slice(0, 6));
    await holding;
    let secondLoaded = false;
    const second = ingest(records.slice(3)).finally(() => (secondLoaded = true));
    const waited = await someoneWaitsForALock(engine.url!, () => secondLoaded);
    release();
    const [a, b] = await Promise.all([first, second]);

    // Assess
    expect(waited).toBe(true);
    expect(a).toMatchObject({ written: 6, duplicates: 0 });
    expect(b.written).toBe(4);
    expect(b.duplicates + b.redelivered).toBe(3);
    const { rows } = await engine.db.query<{ n: number }>('SELECT sum(sample_count)::int AS n FROM telemetry_events');
    expect(rows[0]?.n).toBe(source === 'known' ? 11 : 10);
  });
});
