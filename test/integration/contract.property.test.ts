import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgIngestStore } from '#core/db/pgIngestStore';
import { ingestBatch } from '#core/ingest/ingestBatch';
import { derivedEventId, DerivedEventSchema } from '#core/events';
import { MAX_STRING_VALUE, NAME_PATTERN, TelemetryRecordSchema, type TelemetryRecord } from '#core/record';
import { loadRuleSet } from '#core/rules/ruleSet';
import { writeDerivedEvents } from '#core/db/derivedEventStore';
import { ENGINES, type Engine } from '../helpers/engines.ts';
import { recordingSqs } from '../helpers/memoryIngestStore.ts';
import { streamRecord } from '../helpers/records.ts';

/**
 * What the contract accepts, the database stores: records drawn from the whole contract (any
 * legal offset and fraction length, every double, any storable string) are each stored, with the
 * instant truncated to microseconds and every value exact. The same for derived events.
 */

const NOW = Math.floor(Date.now() / 60_000) * 60_000;
const WINDOW = { maxPastSeconds: 7 * 86_400, maxFutureSeconds: 300 };
const ruleSet = loadRuleSet({ version: 'c.1', rules: [{ id: 'never', description: 'never fires', when: [{ fact: 'x', op: '>', value: 1e300 }] }] });
const queues = { events: 'q://events', 'ingest-dlq': 'q://dlq' };

const storable = (s: string) => !s.includes('\u0000') && s.isWellFormed();
const text = (max: number) => fc.string({ unit: 'binary', maxLength: max }).filter((s) => s.length <= max && storable(s));
const name = fc.stringMatching(NAME_PATTERN);

/** An instant inside the window, written as ISO-8601 with any offset up to +-23:59 and 0-12 fraction digits. */
const timestamp = fc
  .record({
    // whole microseconds in [now - 6 days, now + 4 min]
    us: fc.integer({ min: (NOW - 6 * 86_400_000) * 1000, max: (NOW + 240_000) * 1000 }),
    offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
    digits: fc.integer({ min: 0, max: 12 }),
    extra: fc.stringMatching(/^[0-9]{6}$/),
    utc: fc.boolean(),
  })
  .map(({ us, offsetMinutes, digits, extra, utc }) => {
    const offset = utc ? 0 : offsetMinutes;
    const local = new Date(Math.floor(us / 1000) + offset * 60_000).toISOString().slice(0, 19);
    const fraction = `${String(((us % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0')}${extra}`.slice(0, digits);
    const zone = utc ? 'Z' : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
    // Truncated to the digits written, then to microseconds: the instant the reading names.
    const stored = Math.floor(us / 1_000_000) * 1_000_000 + Number(fraction.slice(0, 6).padEnd(6, '0'));
    return { ts: `${local}${fraction ? `.${fraction}` : ''}${zone}`, us: stored };
  });

const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), text(MAX_STRING_VALUE));

const records = fc.uniqueArray(fc.record({ id: text(128).filter((s) => s.length > 0), source: name, fact: name, ts: timestamp, value }), {
  selector: (r) => `${r.source}\u0000${r.fact}\u0000${r.ts.us}`,
  minLength: 1,
  maxLength: 25,
});

describe.each(ENGINES)('the record contract on $name', ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());

  it('stores every record the contract accepts, exactly (raw mode)', async () => {
    await fc.assert(
      fc.asyncProperty(records, async (drawn) => {
        // Prepare
        await engine.db.exec('TRUNCATE telemetry_events, ingest_checkpoint, ingest_source, rule_state, outbox');
        const sent: TelemetryRecord[] = drawn.map((d) => ({ v: 1, id: d.id, source: d.source, fact: d.fact, ts: d.ts.ts, value: d.value }));
        for (const r of sent) expect(TelemetryRecordSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);

        // Act
        const report = await ingestBatch(
          sent.map((r, i) => streamRecord(r, 1_000 + i)),
          { store: pgIngestStore(engine.db), sqs: recordingSqs().client, queues, ruleSet, window: WINDOW, mode: 'raw', now: () => NOW },
        );

        // Assess: each one is a row, at its instant, with its value and id as sent.
        expect(report).toMatchObject({ written: sent.length, deadLettered: 0 });
        const { rows } = await engine.db.query<{
          source: string;
          fact_name: string;
          us: number;
          event_id: string;
          value_float: number | null;
          value_bool: boolean | null;
          value_str: string | null;
        }>(`SELECT source, fact_name, (extract(epoch FROM ts) * 1000000)::int8 AS us, event_id, value_float, value_bool, value_str FROM telemetry_events`);
        const stored = new Map(rows.map((r) => [`${r.source}\u0000${r.fact_name}\u0000${r.us}`, r]));
        for (const d of drawn) {
          const row = stored.get(`${d.source}\u0000${d.fact}\u0000${d.ts.us}`);
          expect(row, d.ts.ts).toBeDefined();
          const wire = JSON.parse(JSON.stringify(d.value)) as TelemetryRecord['value'];
          expect(row?.event_id).toBe(d.id);
          if (typeof wire === 'boolean') expect(row?.value_bool).toBe(wire);
          else if (typeof wire === 'string') expect(row?.value_str).toBe(wire);
          else expect(row?.value_float).toBe(wire);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('stores every derived event the event schema accepts', async () => {
    const events = fc.array(fc.record({ ts: timestamp, source: name, ruleId: name, rulesVersion: text(64).filter((s) => s.length > 0) }), { minLength: 1, maxLength: 10 });
    await fc.assert(
      fc.asyncProperty(events, async (drawn) => {
        // Prepare
        await engine.db.exec('TRUNCATE rule_events');
        const parsed = drawn.map((d, i) => DerivedEventSchema.parse({ v: 1, kind: 'rule', id: derivedEventId(String(i), d.ts.ts), ...d, ts: d.ts.ts }));
        // Act
        const counts = await writeDerivedEvents(engine.db, parsed);
        // Assess
        expect(counts).toMatchObject({ inserted: drawn.length, refused: [] });
        const { rows } = await engine.db.query<{ us: number; rules_version: string }>(`SELECT (extract(epoch FROM ts) * 1000000)::int8 AS us, rules_version FROM rule_events`);
        expect(rows.map((r) => [r.us, r.rules_version]).sort()).toEqual(drawn.map((d) => [d.ts.us, d.rulesVersion]).sort());
      }),
      { numRuns: 20 },
    );
  });
});
