export const BENCH_BEGIN = '<!-- bench:begin (written by npm run bench -- --docs) -->';
export const BENCH_END = '<!-- bench:end -->';

export class BenchDocError extends Error {
  override readonly name = 'BenchDocError';
}

/**
 * The document with the text between its bench markers replaced by this run's table, as a fenced
 * block: the published figures are what the bench printed, never retyped.
 */
export function withBenchTable(doc: string, table: string): string {
  const begin = doc.indexOf(BENCH_BEGIN);
  const end = doc.indexOf(BENCH_END);
  if (begin < 0 || end < begin) throw new BenchDocError(`no bench section: it needs the lines ${BENCH_BEGIN} and ${BENCH_END}, in that order`);
  return `${doc.slice(0, begin + BENCH_BEGIN.length)}\n\n\`\`\`\n${table.trimEnd()}\n\`\`\`\n\n${doc.slice(end)}`;
}
