import { describe, expect, it } from 'vitest';
import { BENCH_BEGIN, BENCH_END, BenchDocError, withBenchTable } from '../../bench/lib/benchDoc.ts';

describe('the bench section of a document', () => {
  it('is replaced by the table as a fenced block, the text around it kept, again and again', () => {
    // Prepare
    const doc = `# Perf\n\nbefore\n\n${BENCH_BEGIN}\n\nold figures\n\n${BENCH_END}\n\nafter\n`;

    // Act
    const once = withBenchTable(doc, 'table v1\nrow\n');
    const twice = withBenchTable(once, 'table v2');

    // Assess
    expect(once).toBe(`# Perf\n\nbefore\n\n${BENCH_BEGIN}\n\n\`\`\`\ntable v1\nrow\n\`\`\`\n\n${BENCH_END}\n\nafter\n`);
    expect(twice).toBe(`# Perf\n\nbefore\n\n${BENCH_BEGIN}\n\n\`\`\`\ntable v2\n\`\`\`\n\n${BENCH_END}\n\nafter\n`);
  });

  it('is refused when the markers are missing or out of order', () => {
    // Act + Assess
    expect(() => withBenchTable('# no markers', 't')).toThrow(BenchDocError);
    expect(() => withBenchTable(`${BENCH_END}\n${BENCH_BEGIN}`, 't')).toThrow(/in that order/);
  });
});
