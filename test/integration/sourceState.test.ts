import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourcesStatement, loadStatesStatements, parseSourceStates, saveStateStatements } from '#core/db/derivedStateStore';
import { MAX_STATEMENT_BYTES } from '#core/db/sqlText';
import type { StateChanges } from '#core/derive';
import { instantMicros } from '#core/record';
import { ENGINES, type Engine } from '../helpers/engines.ts';
import { databaseBefore } from '../helpers/upgrade.ts';

const TS = '2026-11-22T20:00:00.123456Z';
const noChanges = (): StateChanges => ({ facts: [], rules: [], ema: [] });

describe.each(ENGINES)("a source's derived state in its row, on $name", ({ start }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await start();
  });
  afterAll(async () => engine?.stop());

  const save = (changes: StateChanges) => engine.db.transaction((tx) => tx.batch(saveStateStatements(changes)));
  const load = async (sources: string[]) => parseSourceStates(sources, await engine.db.transaction((tx) => tx.batch(loadStatesStatements(sources))));

  it('reads back what a batch moved forward, merged into what earlier batches left, with any name and value', async () => {
    // Prepare: a first batch's state, then a second that moves some keys and adds others.
    await engine.db.exec('TRUNCATE ingest_source, rule_state');
    await engine.db.exec(createSourcesStatement(['S_1', 'S_2']));
    const text = 'tab\there, quote\' "q", back\\slash, 🛢️ \uFFFF';
    await save({
      ...noChanges(),
      facts: [
        { source: 'S_1', fact: 'ph', value: 5.3, ts: TS },
        { source: 'S_1', fact: 'state', value: 'mashing', ts: TS },
        { source: 'S_2', fact: '__proto__', value: true, ts: TS },
      ],
      ema: [{ source: 'S_1', fact: 'ph', state: { ema: 5.3, emvar: 0, samples: 1 }, ts: TS }],
    });
    const later = '2026-11-22T20:00:01.000001Z';
    // Act
    await save({
      ...noChanges(),
      facts: [
        { source: 'S_1', fact: 'ph', value: Number.MAX_VALUE, ts: later },
        { source: 'S_2', fact: 'note', value: text, ts: later },
        { source: 'S_2', fact: 'tiny', value: 5e-324, ts: later },
      ],
      ema: [{ source: 'S_1', fact: 'ph', state: { ema: 1 / 3, emvar: 1e-300, samples: 2 }, ts: later }],
    });
    const { states, newest } = await load(['S_1', 'S_2']);
    // Assert
    expect(Object.fromEntries(states.get('S_1')!.facts)).toEqual({
      ph: { value: Number.MAX_VALUE, tsUs: instantMicros(later) },
      state: { value: 'mashing', tsUs: instantMicros(TS) },
    });
    expect(states.get('S_2')!.facts).toEqual(
      new Map([
        ['__proto__', { value: true, tsUs: instantMicros(TS) }],
        ['note', { value: text, tsUs: instantMicros(later) }],
        ['tiny', { value: 5e-324, tsUs: instantMicros(later) }],
      ]),
    );
    expect(states.get('S_1')!.ema.get('ph')).toEqual({ ema: 1 / 3, emvar: 1e-300, samples: 2, lastTsUs: instantMicros(later) });
    expect(newest.get('S_2\u0000note')).toBe(instantMicros(later));
    const view = await engine.db.query<{ fact_name: string; ts: string }>(
      `SELECT fact_name, to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS ts FROM fact_state WHERE source = 'S_1' ORDER BY 1`,
    );
    expect(view.rows).toEqual([
      { fact_name: 'ph', ts: '20:00:01.000001' },
      { fact_name: 'state', ts: '20:00:00.123456' },
    ]);
  });

  it('splits a source with more changes than one statement holds, every statement under the limit, and keeps them all', async () => {
    // Prepare: 2,000 facts of the longest string values, all of one source.
    await engine.db.exec('TRUNCATE ingest_source, rule_state');
    await engine.db.exec(createSourcesStatement(['BIG']));
    const facts = Array.from({ length: 2_000 }, (_, i) => ({ source: 'BIG', fact: `f_${i}`, value: `"\\${'x'.repeat(250)}${i}`.slice(0, 256), ts: TS }));
    const ema = Array.from({ length: 500 }, (_, i) => ({ source: 'BIG', fact: `f_${i}`, state: { ema: i, emvar: i / 7, samples: i }, ts: TS }));
    // Act
    const statements = saveStateStatements({ ...noChanges(), facts, ema });
    await save({ ...noChanges(), facts, ema });
    const { states } = await load(['BIG']);
    // Assert
    expect(statements.length).toBeGreaterThan(1);
    expect(Math.max(...statements.map((s) => Buffer.byteLength(s)))).toBeLessThanOrEqual(MAX_STATEMENT_BYTES);
    expect(states.get('BIG')!.facts.size).toBe(2_000);
    expect(states.get('BIG')!.facts.get('f_1999')?.value).toBe(facts[1_999]!.value);
    expect(states.get('BIG')!.ema.size).toBe(500);
    expect(states.get('BIG')!.ema.get('f_499')).toEqual({ ema: 499, emvar: 499 / 7, samples: 499, lastTsUs: instantMicros(TS) });
  });
});

describe('upgrade of the derived state to a row per source (0012)', () => {
  const upgrade = databaseBefore('0012');

  it('carries every fact and EMA series over, including sources that had no ingest_source row', async () => {
    const db = upgrade.db();
    // Prepare: state as ingest wrote it before 0012.
    await db.exec(`INSERT INTO ingest_source (source) VALUES ('OLD_A')`);
    await db.exec(`INSERT INTO fact_state (source, fact_name, value, ts) VALUES
      ('OLD_A', 'ph', '5.25', '${TS}'), ('OLD_A', 'state', '"boiling"', '${TS}'), ('OLD_B', 'pump_running', 'true', '${TS}')`);
    await db.exec(`INSERT INTO anomaly_state (source, fact_name, ema, emvar, samples, last_ts) VALUES ('OLD_A', 'ph', 0.1, 1e-300, 7, '${TS}')`);
    // Act
    await upgrade.migrateAll();
    const { states } = parseSourceStates(['OLD_A', 'OLD_B'], await db.transaction((tx) => tx.batch(loadStatesStatements(['OLD_A', 'OLD_B']))));
    // Assert
    const tsUs = instantMicros(TS);
    expect(Object.fromEntries(states.get('OLD_A')!.facts)).toEqual({ ph: { value: 5.25, tsUs }, state: { value: 'boiling', tsUs } });
    expect(Object.fromEntries(states.get('OLD_B')!.facts)).toEqual({ pump_running: { value: true, tsUs } });
    expect(states.get('OLD_A')!.ema.get('ph')).toEqual({ ema: 0.1, emvar: 1e-300, samples: 7, lastTsUs: tsUs });
    const view = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM anomaly_state WHERE ema = 0.1 AND samples = 7`);
    expect(view.rows[0]?.n).toBe(1);
  });
});
