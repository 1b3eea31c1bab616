import type { SQSClient } from '@aws-sdk/client-sqs';
import { compareSequence, decodeSamples, fingerprint, minuteOf, seriesKey } from '#core/reading';
import { emptySourceState, type SourceState, type StateChanges } from '#core/derive';
import { storedPartitionKey, type Committed } from '#core/db/checkpointStore';
import type { OutboxMessage } from '#core/db/outbox';
import type { CommitPlan, IngestStore, IngestTransaction, StoredIdentities } from '#core/ingest/store';
import type { MergedRow } from '#core/merge';
import { instantMicros } from '#core/record';

interface Tables {
  rows: MergedRow[];
  sources: Set<string>;
  facts: Map<string, { source: string; fact: string; value: MergedRow['value']; tsUs: number }>;
  rules: Map<string, { source: string; ruleId: string; active: boolean }>;
  ema: Map<string, { source: string; fact: string; state: StateChanges['ema'][number]['state']; tsUs: number }>;
  checkpoints: Map<string, Map<string, string>>;
  outbox: Map<string, { message: OutboxMessage; sent: boolean; claimed: boolean }>;
}

const clone = (t: Tables): Tables => ({
  rows: [...t.rows],
  sources: new Set(t.sources),
  facts: new Map(t.facts),
  rules: new Map(t.rules),
  ema: new Map(t.ema),
  checkpoints: new Map([...t.checkpoints].map(([k, v]) => [k, new Map(v)])),
  outbox: new Map([...t.outbox].map(([k, v]) => [k, { ...v }])),
});

const outboxKey = (m: Pick<OutboxMessage, 'destination' | 'id'>) => `${m.destination}\u0000${m.id}`;

/**
 * The ingest store in memory, with the PostgreSQL store's semantics (db/pgIngestStore.ts):
 * transactions are serialized (the sources' locks) and all-or-nothing, the unique key is enforced,
 * the outbox keeps each (destination, id) once. For fast tests of ingest's accounting rules.
 */
export class MemoryIngestStore implements IngestStore {
  tables: Tables = { rows: [], sources: new Set(), facts: new Map(), rules: new Map(), ema: new Map(), checkpoints: new Map(), outbox: new Map() };
  rawRetentionDays: number | null = 7;
  /** The clock the ingest horizon is taken at (warehouse_ingest_horizon uses the database's now()). */
  nowMs = Date.now();
  /** Fails the next commits with this error (then behaves again), to exercise rollback and retry. */
  failNextCommits: Array<Error & { code?: string }> = [];
  /** The number of rows in each chunk every insert was given, attempts that rolled back included. */
  readonly insertedChunks: number[] = [];
  /** Awaited by every commit before it applies anything (a rejection fails the commit): holds COMMIT in flight. */
  beforeCommit: (() => Promise<void>) | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  transaction<T>(work: (tx: IngestTransaction) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const draft = clone(this.tables);
      const result = await work(this.session(draft));
      this.tables = draft;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async markSent(messages: readonly OutboxMessage[]): Promise<void> {
    for (const m of messages) {
      const row = this.tables.outbox.get(outboxKey(m));
      if (row) Object.assign(row, { sent: true, claimed: false });
    }
  }

  async releaseClaims(messages: readonly OutboxMessage[]): Promise<void> {
    for (const m of messages) {
      const row = this.tables.outbox.get(outboxKey(m));
      if (row) row.claimed = false;
    }
  }

  /** Samples per series, summed over stored rows (sum(sample_count)). */
  samplesBySeries(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.tables.rows) out.set(seriesKey(r.source, r.fact), (out.get(seriesKey(r.source, r.fact)) ?? 0) + r.count);
    return out;
  }

  unsent(destination: OutboxMessage['destination']): OutboxMessage[] {
    return [...this.tables.outbox.values()].filter((o) => !o.sent && o.message.destination === destination).map((o) => o.message);
  }

  private session(t: Tables): IngestTransaction {
    const statesOf = (sources: readonly string[]) => {
      const states = new Map<string, SourceState>(sources.map((s) => [s, emptySourceState()]));
      const newest = new Map<string, number>();
      for (const f of t.facts.values()) {
        const state = states.get(f.source);
        if (!state) continue;
        state.facts.set(f.fact, { value: f.value, tsUs: f.tsUs });
        newest.set(seriesKey(f.source, f.fact), f.tsUs);
      }
      for (const r of t.rules.values()) if (r.active) states.get(r.source)?.activeRules.add(r.ruleId);
      for (const e of t.ema.values()) states.get(e.source)?.ema.set(e.fact, { ...e.state, lastTsUs: e.tsUs });
      return { states, newest };
    };
    return {
      load: async (sources) => {
        const known = sources.filter((s) => t.sources.has(s));
        const checkpoints: Committed = new Map([...t.checkpoints].map(([k, v]) => [k, new Map(v)]));
        // As warehouse_ingest_horizon with no retention change yet: retention, less the hour of margin and 10 minutes.
        const horizon = this.rawRetentionDays === null ? null : (this.nowMs - this.rawRetentionDays * 86_400_000 + 70 * 60_000) * 1000;
        return { ...statesOf(known), newSources: sources.filter((s) => !t.sources.has(s)), checkpoints, horizon: { us: horizon, rawRetentionDays: this.rawRetentionDays } };
      },
      loadSources: async (sources) => ({ ...statesOf(sources.filter((s) => t.sources.has(s))), newSources: sources.filter((s) => !t.sources.has(s)) }),
      lookup: async (newSources, minutes) => {
        for (const s of newSources) t.sources.add(s);
        const stored: StoredIdentities = new Map();
        for (const m of minutes) {
          const key = `${seriesKey(m.source, m.fact)}\u0000${m.minuteUs}`;
          const found = stored.get(key) ?? new Map<number, number>();
          stored.set(key, found);
          for (const r of t.rows) {
            if (r.source !== m.source || r.fact !== m.fact || minuteOf(r.tsUs) !== m.minuteUs) continue;
            if (r.samples !== null) for (const s of decodeSamples(r.samples)) found.set(s.offsetUs, s.fp);
            else if (r.tsUs >= m.loUs && r.tsUs <= m.hiUs) found.set(r.tsUs - m.minuteUs, fingerprint(r.eventId, r.value));
          }
        }
        return { ...statesOf(newSources), stored };
      },
      insertRows: async (chunks) => {
        const keys = new Set(t.rows.map((r) => `${seriesKey(r.source, r.fact)}\u0000${r.tsUs}`));
        let count = 0;
        for await (const rows of chunks) {
          this.insertedChunks.push(rows.length);
          for (const r of rows) {
            const key = `${seriesKey(r.source, r.fact)}\u0000${r.tsUs}`;
            if (keys.has(key)) throw Object.assign(new Error(`duplicate key ${key}`), { code: '23505' });
            keys.add(key);
            t.rows.push(r);
          }
          count += rows.length;
        }
        return count;
      },
      commit: async (plan: CommitPlan) => {
        await this.beforeCommit?.();
        const failure = this.failNextCommits.shift();
        if (failure) throw failure;
        for (const f of plan.changes.facts) {
          const key = seriesKey(f.source, f.fact);
          const tsUs = instantMicros(f.ts);
          const known = t.facts.get(key);
          if (!known || known.tsUs < tsUs) t.facts.set(key, { source: f.source, fact: f.fact, value: f.value, tsUs });
        }
        for (const r of plan.changes.rules) t.rules.set(`${r.source}\u0000${r.ruleId}`, { source: r.source, ruleId: r.ruleId, active: r.active });
        for (const e of plan.changes.ema) t.ema.set(seriesKey(e.source, e.fact), { source: e.source, fact: e.fact, state: e.state, tsUs: instantMicros(e.ts) });
        const added = new Set<string>();
        for (const m of plan.outbox) {
          if (t.outbox.has(outboxKey(m))) continue;
          t.outbox.set(outboxKey(m), { message: m, sent: false, claimed: false });
          added.add(m.id);
        }
        for (const p of plan.checkpoints) {
          const byKey = t.checkpoints.get(p.shardId) ?? new Map<string, string>();
          t.checkpoints.set(p.shardId, byKey);
          const key = storedPartitionKey(p.partitionKey);
          const seq = byKey.get(key);
          if (seq === undefined || compareSequence(p.sequenceNumber, seq) > 0) byKey.set(key, p.sequenceNumber);
        }
        const unsent = [...t.outbox.values()].filter((o) => !o.sent);
        const claimed = unsent.filter((o) => !o.claimed);
        for (const o of claimed) o.claimed = true;
        return { added, claimed: claimed.map((o) => o.message), outbox: { pending: unsent.length, oldestAgeSeconds: 0 } };
      },
    };
  }
}

/** Enough of an SQS client for SendMessageBatch: records each accepted body per queue, or refuses all. */
export function recordingSqs(): { client: SQSClient; sent: Map<string, string[]>; refuse: { on: boolean } } {
  const sent = new Map<string, string[]>();
  const refuse = { on: false };
  const client = {
    send: async (command: { input: { QueueUrl: string; Entries: Array<{ Id: string; MessageBody: string }> } }) => {
      const { QueueUrl, Entries } = command.input;
      if (refuse.on) return { Successful: [], Failed: Entries.map((e) => ({ Id: e.Id, Code: 'Refused', Message: 'test', SenderFault: false })) };
      sent.set(QueueUrl, [...(sent.get(QueueUrl) ?? []), ...Entries.map((e) => e.MessageBody)]);
      return { Successful: Entries.map((e) => ({ Id: e.Id })), Failed: [] };
    },
  } as unknown as SQSClient;
  return { client, sent, refuse };
}
