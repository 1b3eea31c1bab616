import { describe, expect, it } from 'vitest';
import { check, worst } from '#core/warehouse/health';
import { progressBar } from '../../local/cli/progress.ts';
import { listFlag, UsageError } from '../../local/cli/run.ts';
import { formatOf, isoToMicros } from '../../local/cli/sinks.ts';
import { microsToIso } from '../timescale/warehouseFixtures.ts';

describe('warehouse operator helpers', () => {
  it('keeps the microseconds of an export timestamp in Parquet, which Date would cut to milliseconds', () => {
    const iso = '2026-11-22T20:18:58.263461Z';
    expect(isoToMicros(iso)).toBe(1_795_378_738_263_461n);
    expect(microsToIso(isoToMicros(iso))).toBe(iso);
    expect(() => isoToMicros('2026-11-22 20:18:58+00')).toThrow(/not an export timestamp/);
  });

  it('picks the export format from the file name and refuses others', () => {
    expect(formatOf('out/x.CSV')).toBe('csv');
    expect(formatOf('x.parquet')).toBe('parquet');
    expect(() => formatOf('x.json')).toThrow(UsageError);
  });

  it('accepts repeated and comma-separated list flags', () => {
    expect(listFlag(['FBE_01,FBE_02', ' FBE_03 ', ''])).toEqual(['FBE_01', 'FBE_02', 'FBE_03']);
    expect(listFlag(undefined)).toEqual([]);
  });

  it('reports the worst check: any red makes the whole verify red', () => {
    expect(worst([check('a', 'ok', ''), check('b', 'warn', '')])).toBe('warn');
    expect(worst([check('a', 'warn', ''), check('b', 'red', ''), check('c', 'ok', '')])).toBe('red');
    expect(worst([])).toBe('ok');
  });

  it('prints progress every 10 % when stderr is not a terminal, and the final line once', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const bar = progressBar('export raw', 1_000, stream);
    for (let done = 100; done <= 1_000; done += 50) bar.update(done);
    bar.finish(1_000);
    expect(lines).toHaveLength(10);
    expect(lines.at(-1)).toMatch(/^export raw \[#{30}\] 100% 1,000\/1,000 rows/);
  });
});
