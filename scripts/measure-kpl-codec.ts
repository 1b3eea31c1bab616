/**
 * The measurement behind docs/adr/0009-kpl-decoder.md: tapline's hand-written KPL codec against
 * aws-kinesis-agg (and the protobufjs codec inside it) on the same aggregates, and what each adds
 * to a function bundle built with the stack's esbuild options.
 *
 *   npx tsx scripts/measure-kpl-codec.ts [--aggregates 10000] [--readings 150] [--rounds 5]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { median } from '../bench/lib/stats.ts';
import { runProbe } from '../bench/scenarios/coldStart.ts';
import { FUNCTION_BUNDLE_OPTIONS } from '../infra/constructs/esbuild-bundling.ts';
import { aggregate } from '#core/kpl/aggregate';
import { deaggregate } from '#core/kpl/deaggregate';
import { encodeRecord } from '#core/record';
import { createBrewery } from '#core/simulator/brewery';

const require = createRequire(import.meta.url);
interface AggUserRecord {
  data: string;
}
const agg = require('aws-kinesis-agg') as {
  deaggregateSync(r: { data: string; partitionKey: string; sequenceNumber: string }, checksums: boolean, cb: (e: Error | null, u?: AggUserRecord[]) => void): void;
  RecordAggregator: new () => { addUserRecord(r: { partitionKey: string; data: Buffer }): void; build(): { data: Buffer } };
};
const common = require('aws-kinesis-agg/lib/common.js') as {
  AggregatedRecord: { decode(b: Buffer): { partition_key_table: string[]; records: Array<{ partition_key_index: number; data: Buffer }> } };
};

const { values: args } = parseArgs({
  options: {
    aggregates: { type: 'string', default: '10000' },
    readings: { type: 'string', default: '150' },
    rounds: { type: 'string', default: '5' },
  },
});
const AGGREGATES = Number(args.aggregates);
const PER = Number(args.readings);
const ROUNDS = Number(args.rounds);

// Input: brewery readings as the simulator encodes them, PER per aggregate, one source per aggregate.
const brewery = createBrewery({ seed: 9 });
const groups: Array<Array<{ partitionKey: string; data: Buffer }>> = [];
const bySource = new Map<string, Array<{ partitionKey: string; data: Buffer }>>();
let t = Date.UTC(2026, 0, 1);
while (groups.length < AGGREGATES) {
  for (const r of brewery.next((t += 100), 1_000)) {
    const list = bySource.get(r.source) ?? [];
    list.push({ partitionKey: r.source, data: Buffer.from(encodeRecord(r)) });
    if (list.length === PER) {
      if (groups.length < AGGREGATES) groups.push(list);
      bySource.delete(r.source);
    } else bySource.set(r.source, list);
  }
}
const aggregates = groups.map((g) => {
  const [a, ...more] = aggregate(g);
  if (!a || more.length > 0) throw new Error('a group did not fit one aggregate');
  return a;
});
// Lambda hands the consumer base64, so every decoder starts from it.
const base64 = aggregates.map((a) => a.data.toString('base64'));
const readings = AGGREGATES * PER;
const avgBytes = aggregates.reduce((s, a) => s + a.data.length, 0) / AGGREGATES;

const decoders: Record<string, () => number> = {
  'hand-written deaggregate': () => {
    let n = 0;
    for (const b of base64) {
      const d = deaggregate(Buffer.from(b, 'base64'));
      if (d.kind !== 'aggregate') throw new Error(d.kind);
      n += d.records.length;
    }
    return n;
  },
  'aws-kinesis-agg deaggregateSync': () => {
    let n = 0;
    base64.forEach((b, i) => {
      agg.deaggregateSync({ data: b, partitionKey: 'p', sequenceNumber: String(i) }, true, (e, users) => {
        if (e) throw e;
        n += users?.length ?? 0;
      });
    });
    return n;
  },
  // The library's own codec without its base64 round trip per user record: the best it could do.
  'protobufjs AggregatedRecord.decode + md5': () => {
    let n = 0;
    for (const b of base64) {
      const buf = Buffer.from(b, 'base64');
      const body = buf.subarray(4, buf.length - 16);
      if (
        !createHash('md5')
          .update(body)
          .digest()
          .equals(buf.subarray(buf.length - 16))
      )
        throw new Error('md5');
      const m = common.AggregatedRecord.decode(body);
      const users = m.records.map((r) => ({ partitionKey: m.partition_key_table[Number(r.partition_key_index)], data: r.data }));
      n += users.length;
    }
    return n;
  },
};

const aggregators: Record<string, () => number> = {
  'hand-written aggregate': () => groups.reduce((s, g) => s + (aggregate(g)[0]?.data.length ?? 0), 0),
  'aws-kinesis-agg RecordAggregator': () =>
    groups.reduce((s, g) => {
      const ra = new agg.RecordAggregator();
      for (const r of g) ra.addUserRecord({ partitionKey: r.partitionKey, data: r.data });
      return s + ra.build().data.length;
    }, 0),
};

/**
 * Median CPU time (user + system, this process) of interleaved rounds after one warm-up each, the
 * order rotated every round: on a shared machine CPU time leaves out the time other processes held
 * the cores, which wall time does not.
 */
function time(variants: Record<string, () => number>, expected: (name: string, n: number) => void): Array<{ name: string; ms: number }> {
  const samples = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
  for (const [name, run] of Object.entries(variants)) expected(name, run());
  const entries = Object.entries(variants);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of [...entries.slice(round % entries.length), ...entries.slice(0, round % entries.length)]) {
      const start = process.cpuUsage();
      run();
      const used = process.cpuUsage(start);
      samples.get(name)!.push((used.user + used.system) / 1000);
    }
  }
  return [...samples].map(([name, s]) => ({ name, ms: median(s) }));
}

async function bundle(contents: string): Promise<Uint8Array> {
  const out = await build({
    ...FUNCTION_BUNDLE_OPTIONS,
    mainFields: [...FUNCTION_BUNDLE_OPTIONS.mainFields],
    stdin: { contents, resolveDir: process.cwd(), loader: 'ts' },
    write: false,
    logLevel: 'error',
  });
  return out.outputFiles[0]?.contents ?? new Uint8Array();
}

const IMPORT_PROBE = `
const t0 = performance.now();
await import(process.env.BUNDLE_URL);
process.stdout.write('\\nIMPORT ' + JSON.stringify(performance.now() - t0) + '\\n');
`;

/** Median time to import the bundle in a fresh node process: what it adds to a cold start. */
async function importMs(code: Uint8Array): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kpl-bundle-'));
  try {
    const file = join(dir, 'bundle.mjs');
    writeFileSync(file, code);
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) runs.push(await runProbe<number>(IMPORT_PROBE, 'IMPORT', { BUNDLE_URL: pathToFileURL(file).href }));
    return median(runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`input: ${fmt(AGGREGATES)} aggregates x ${PER} readings = ${fmt(readings)} readings, ${fmt(avgBytes)} B per aggregate on average`);
console.log(`node ${process.version}; CPU time, median of ${ROUNDS} interleaved rounds`);
console.log('\ndeaggregation (base64 in, user records out, MD5 checked):');
for (const r of time(decoders, (name, n) => {
  if (n !== readings) throw new Error(`${name} found ${n} records`);
})) {
  console.log(`  ${r.name.padEnd(42)} ${fmt(r.ms).padStart(6)} ms CPU  ${fmt(readings / (r.ms / 1000)).padStart(11)} readings per CPU-second`);
}
console.log('\naggregation (user records in, one aggregate per group):');
for (const r of time(aggregators, () => undefined)) {
  console.log(`  ${r.name.padEnd(42)} ${fmt(r.ms).padStart(6)} ms CPU  ${fmt(readings / (r.ms / 1000)).padStart(11)} readings per CPU-second`);
}
console.log('\nbundle (esbuild, the stack options, minified): what importing the decoder adds, and its import time in a fresh process');
const bundles = {
  'nothing (an empty module: the baseline)': 'export {};',
  'hand-written deaggregate': "export { deaggregate } from './layers/core/src/kpl/deaggregate.ts';",
  'aws-kinesis-agg deaggregateSync': "export { deaggregateSync } from 'aws-kinesis-agg';",
};
for (const [name, contents] of Object.entries(bundles)) {
  const code = await bundle(contents);
  console.log(`  ${name.padEnd(42)} ${fmt(code.byteLength).padStart(8)} B  (${fmt(gzipSync(code).byteLength)} B gzipped), import ${(await importMs(code)).toFixed(1)} ms`);
}
