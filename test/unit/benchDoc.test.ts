import { describe, expect, it } from 'vitest';
import { BENCH_BEGIN, BENCH_END, BenchDocError, SUMMARY_BEGIN, SUMMARY_END, withBenchSections } from '../../bench/lib/benchDoc.ts';
import { parseBenchArgs } from '../../bench/lib/args.ts';

const fenced = (text: string) => `\n\n\`\`\`\n${text}\n\`\`\`\n\n`;

describe('the bench sections of a document', () => {
  it('replaces the table section by the table as a fenced block, the text around it kept, again and again', () => {
    // Prepare
    const doc = `# Perf\n\nbefore\n\n${BENCH_BEGIN}\n\nold figures\n\n${BENCH_END}\n\nafter\n`;

    // Act
    const once = withBenchSections(doc, { table: 'table v1\nrow\n', summary: 'not here' });
    const twice = withBenchSections(once, { table: 'table v2', summary: 'not here' });

    // Assess
    expect(once).toBe(`# Perf\n\nbefore\n\n${BENCH_BEGIN}${fenced('table v1\nrow')}${BENCH_END}\n\nafter\n`);
    expect(twice).toBe(`# Perf\n\nbefore\n\n${BENCH_BEGIN}${fenced('table v2')}${BENCH_END}\n\nafter\n`);
  });

  it('replaces a summary section by the summary, and both where a document holds both', () => {
    // Prepare
    const readme = `# tapline\n\n${SUMMARY_BEGIN}\nold\n${SUMMARY_END}\n`;
    const both = `${SUMMARY_BEGIN}\n${SUMMARY_END}\n\n${BENCH_BEGIN}\n${BENCH_END}\n`;

    // Act
    const sections = { table: 'the table', summary: 'targets: 2 of 2 met' };

    // Assess
    expect(withBenchSections(readme, sections)).toBe(`# tapline\n\n${SUMMARY_BEGIN}${fenced('targets: 2 of 2 met')}${SUMMARY_END}\n`);
    expect(withBenchSections(both, sections)).toBe(`${SUMMARY_BEGIN}${fenced('targets: 2 of 2 met')}${SUMMARY_END}\n\n${BENCH_BEGIN}${fenced('the table')}${BENCH_END}\n`);
  });

  it('is refused when no section is there, or a section has one marker or its markers out of order', () => {
    // Act + Assess
    const sections = { table: 't', summary: 's' };
    expect(() => withBenchSections('# no markers', sections)).toThrow(BenchDocError);
    expect(() => withBenchSections(`${BENCH_END}\n${BENCH_BEGIN}`, sections)).toThrow(/in that order/);
    expect(() => withBenchSections(`${SUMMARY_BEGIN}\n`, sections)).toThrow(/broken bench section/);
  });

  it('takes --docs more than once, each file written with the sections it holds', () => {
    // Act + Assess
    expect(parseBenchArgs(['--docs', 'docs/performance.md', '--docs', 'README.md']).docs).toEqual(['docs/performance.md', 'README.md']);
    expect(parseBenchArgs([]).docs).toEqual([]);
  });
});
