import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cost = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'ops/bin/cost.ts', '--bench', '/nonexistent/bench.json', ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('npm run cost', () => {
  it('prices the stage as configured, aggregated on prod, with plain and aggregated records on both stream modes beside it', async () => {
    // Act
    const text = await cost('--events-per-second', '1000', '--stage', 'prod');
    const json = await cost('--events-per-second', '1000', '--stage', 'prod', '--json');

    // Assess
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/PUT payload units \(aggregated, [\d.]+ readings and [\d,]+ B per record\)/);
    expect(text.stdout).toMatch(/^aggregated +provisioned .*<- this stage$/m);
    const result = JSON.parse(json.stdout) as {
      estimate: { kinesis: { aggregated: boolean } };
      comparison: Array<{ records: string; mode: string; variablePerMillionUsd: number }>;
    };
    expect(result.estimate.kinesis.aggregated).toBe(true);
    const at = (records: string, mode: string) => result.comparison.find((c) => c.records === records && c.mode === mode)!.variablePerMillionUsd;
    expect(result.comparison.map((c) => `${c.records} ${c.mode}`)).toEqual(['plain provisioned', 'aggregated provisioned', 'plain on-demand', 'aggregated on-demand']);
    expect(at('aggregated', 'provisioned')).toBeLessThan(at('plain', 'provisioned'));
    expect(at('aggregated', 'on-demand')).toBeLessThan(at('plain', 'on-demand'));
  });

  it('exits 2 with one line of usage on a bad rate', async () => {
    // Act
    const result = await cost('--events-per-second', 'lots');

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('error: --events-per-second must be a positive number, got "lots"');
  });
});
