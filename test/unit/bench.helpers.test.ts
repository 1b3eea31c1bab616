import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/lib/args.ts';
import { UsageError } from '../../local/cli/run.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { summarizeProfile, withSourceFrames, type CpuProfile } from '../../bench/lib/cpuProfile.ts';
import { fromSourceMap } from '../../bench/lib/profiler.ts';
import { median, pairedRatio, percentile, perSecond } from '../../bench/lib/stats.ts';
import { BatchSource } from '../../bench/lib/syntheticBatches.ts';

describe('bench statistics', () => {
  it('takes medians and nearest-rank percentiles without reordering the input', () => {
    // Prepare
    const values = [5, 1, 4, 2, 3];

    // Act + Assess
    expect(median(values)).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile(values, 99)).toBe(5);
    expect(percentile(values, 50)).toBe(3);
    expect(percentile(values, 0)).toBe(1);
    expect(values).toEqual([5, 1, 4, 2, 3]);
    expect(median([])).toBeNaN();
  });

  it('compares two scenarios round by round, so a slow round slows both sides of its ratio', () => {
    // Prepare: round 2 ran on a loaded machine; both sides halved
    const tapline = [100, 50, 100];
    const ceiling = [200, 100, 200];

    // Act + Assess
    expect(pairedRatio(tapline, ceiling)).toBe(0.5);
    expect(perSecond(10_000, 50)).toBe(200_000);
  });
});

describe('bench command line', () => {
  it('defaults to five rounds, three with --quick, and the JSON file npm run cost reads', () => {
    // Act + Assess
    expect(parseBenchArgs([])).toMatchObject({ rounds: 5, quick: false, json: false, out: '.tapline/bench.json' });
    expect(parseBenchArgs(['--quick', '--json'])).toMatchObject({ rounds: 3, quick: true, json: true });
    expect(parseBenchArgs(['--rounds', '7', '--only', 'ingest,proxy']).only).toEqual(new Set(['ingest', 'proxy']));
    expect(parseBenchArgs([]).viewers).toBe(0);
    expect(parseBenchArgs(['--only', 'e2e', '--viewers', '20']).viewers).toBe(20);
  });

  it('rejects bad rounds, unknown scenario groups and unknown options with a typed error', () => {
    // Act + Assess
    expect(() => parseBenchArgs(['--rounds', '0'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--rounds'])).toThrow(/needs a value/);
    expect(() => parseBenchArgs(['--only', 'ingest,warp'])).toThrow(/warp/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseBenchArgs(['--viewers', '0'])).toThrow(/--viewers must be a whole number in 1..200/);
  });
});

describe('synthetic Kinesis batches', () => {
  it('gives the same readings for the same seed and start, with growing sequence numbers per shard', () => {
    // Prepare
    const a = new BatchSource(Date.UTC(2026, 0, 1));
    const b = new BatchSource(Date.UTC(2026, 0, 1));

    // Act
    const first = a.next(50, 'shardId-1');
    const second = a.next(50, 'shardId-1');
    const same = b.next(50, 'shardId-1');

    // Assess
    expect(same.records.map((r) => r.data)).toEqual(first.records.map((r) => r.data));
    const seqs = [...first.records, ...second.records].map((r) => BigInt(r.sequenceNumber));
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as bigint))).toBe(true);
    expect(first.event.Records[0]?.eventID).toBe(`shardId-1:${first.records[0]?.sequenceNumber}`);
    expect(first.records[0]?.shardId).toBe('shardId-1');
  });
});

describe('CPU profile summary', () => {
  it('ranks frames by self and inclusive time, leaving out idle time and the profiler itself', () => {
    // Prepare: root -> main -> decode (2 samples), main (1), idle (1), inspector dispatch (1)
    const frame = (functionName: string, url = 'file:///work/main/layers/core/src/x.ts') => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
        { id: 2, callFrame: frame('main'), children: [3] },
        { id: 3, callFrame: frame('decode') },
        { id: 4, callFrame: frame('(idle)', '') },
        { id: 5, callFrame: frame('post', 'node:inspector'), children: [6] },
        { id: 6, callFrame: frame('dispatch', '') },
      ],
      samples: [3, 3, 2, 4, 6],
      timeDeltas: [1_000, 1_000, 1_000, 1_000, 1_000],
    };

    // Act
    const summary = summarizeProfile(profile, 5);

    // Assess
    expect(summary.sampledMs).toBe(3);
    expect(summary.self[0]).toMatchObject({ frame: 'decode layers/core/src/x.ts:1' });
    expect(summary.self[0]?.selfPct).toBeCloseTo(66.7, 1);
    expect(summary.total.find((f) => f.frame.startsWith('main'))?.totalPct).toBe(100);
    expect(summary.self.some((f) => f.frame.startsWith('dispatch') || f.frame.startsWith('(idle)'))).toBe(false);
  });
});

describe('CPU profile frames of a minified bundle', () => {
  it('names each frame after its source through the source map beside the bundle, and leaves frames without one as they are', async () => {
    // Prepare: a minified bundle of two functions, with its map beside it, as bench/start.ts builds
    const dir = mkdtempSync(join(tmpdir(), 'tapline-profile-'));
    writeFileSync(
      join(dir, 'work.ts'),
      ['export function decodeAll(n: number): number {', '  return n * 2;', '}', '', 'export function mergeAll(n: number): number {', '  return n + 1;', '}', ''].join('\n'),
    );
    const out = join(dir, 'bundle.mjs');
    await build({ entryPoints: [join(dir, 'work.ts')], bundle: true, format: 'esm', minify: true, sourcemap: true, outfile: out, logLevel: 'error' });
    const code = readFileSync(out, 'utf8');
    // V8 places a function's frame at the opening parenthesis of its parameters.
    const merge = { line: 0, column: code.search(/\(\w\)\{return \w\+1/) };
    const url = pathToFileURL(out).href;
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: 'q', url, lineNumber: merge.line, columnNumber: merge.column } },
        { id: 2, callFrame: { functionName: 'writev', url: '', lineNumber: -1, columnNumber: -1 } },
      ],
      samples: [1, 2],
      timeDeltas: [1_000, 1_000],
    };

    // Act
    const named = withSourceFrames(profile, fromSourceMap);

    // Assess
    expect(merge.column).toBeGreaterThan(0);
    expect(named.nodes[0]?.callFrame).toMatchObject({ functionName: 'mergeAll', url: pathToFileURL(join(dir, 'work.ts')).href, lineNumber: 4 });
    expect(named.nodes[1]?.callFrame).toEqual(profile.nodes[1]?.callFrame);
  });
});
