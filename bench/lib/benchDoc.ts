export const BENCH_BEGIN = '<!-- bench:begin (written by npm run bench -- --docs) -->';
export const BENCH_END = '<!-- bench:end -->';
export const SUMMARY_BEGIN = '<!-- bench:summary:begin (written by npm run bench -- --docs) -->';
export const SUMMARY_END = '<!-- bench:summary:end -->';

export class BenchDocError extends Error {
  override readonly name = 'BenchDocError';
}

/** What a run writes into documents: the whole table, and its summary (ratios and targets). */
export interface BenchSections {
  table: string;
  summary: string;
}

const SECTIONS = [
  { begin: BENCH_BEGIN, end: BENCH_END, text: (s: BenchSections) => s.table },
  { begin: SUMMARY_BEGIN, end: SUMMARY_END, text: (s: BenchSections) => s.summary },
];

/**
 * The document with the text between each pair of bench markers it holds replaced by this run's
 * table or summary, as a fenced block: the published figures are what the bench printed, never
 * retyped. A document needs at least one pair.
 */
export function withBenchSections(doc: string, sections: BenchSections): string {
  let out = doc;
  let found = 0;
  for (const { begin: beginMarker, end: endMarker, text } of SECTIONS) {
    const begin = out.indexOf(beginMarker);
    const end = begin < 0 ? out.indexOf(endMarker) : out.indexOf(endMarker, begin);
    if (begin < 0 && end < 0) continue;
    if (begin < 0 || end < begin) throw new BenchDocError(`a broken bench section: it needs the lines ${beginMarker} and ${endMarker}, in that order`);
    out = `${out.slice(0, begin + beginMarker.length)}\n\n\`\`\`\n${text(sections).trimEnd()}\n\`\`\`\n\n${out.slice(end)}`;
    found++;
  }
  if (found === 0) throw new BenchDocError(`no bench section: it needs the lines ${BENCH_BEGIN} and ${BENCH_END} (the table) or ${SUMMARY_BEGIN} and ${SUMMARY_END} (the summary)`);
  return out;
}
