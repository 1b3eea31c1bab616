import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));
  return ['README.md', 'CONTRIBUTING.md', ...walk('docs')].filter((f) => existsSync(join(root, f)));
}

/** The text outside fenced code blocks and inline code: links there are examples, not links. */
const prose = (md: string): string => md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of md.replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link {
  file: string;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const text = prose(readFileSync(join(root, file), 'utf8'));
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] ?? '')
    .filter((t) => !/^[a-z]+:/i.test(t))
    .map((target) => ({ file, target }));
}

/** Why a link does not resolve, or null when it does. */
function problem({ file, target }: Link): string | null {
  const [path = '', anchor] = target.split('#');
  const resolved = path === '' ? join(root, file) : resolve(root, dirname(file), decodeURIComponent(path));
  const name = relative(root, resolved);
  if (name.startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(resolved)) return `${target}: no such file`;
  if (anchor === undefined) return null;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) return `${target}: an anchor into a file that has no headings`;
  return anchorsOf(readFileSync(resolved, 'utf8')).has(anchor) ? null : `${target}: no heading with anchor #${anchor} in ${name}`;
}

describe('documentation links', () => {
  it('computes the anchors GitHub gives headings', () => {
    const anchors = anchorsOf('# Tapline\n## LocalStack (`npm run local:stack`)\n## What is left (not done)\n## Notes\n## Notes\n```\n# not a heading\n```\n');
    expect([...anchors]).toEqual(['tapline', 'localstack-npm-run-localstack', 'what-is-left-not-done', 'notes', 'notes-1']);
  });

  it('finds a broken link and a broken anchor', () => {
    expect(problem({ file: 'README.md', target: 'docs/no-such-page.md' })).toMatch(/no such file/);
    expect(problem({ file: 'README.md', target: 'docs/guarantees.md#no-such-heading' })).toMatch(/no heading/);
    expect(problem({ file: 'docs/guarantees.md', target: 'operations.md#replaying' })).toBeNull();
  });

  const files = markdownFiles();
  it('covers the README, CONTRIBUTING and every page under docs/', () => {
    expect(files).toContain('README.md');
    expect(files.filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(10);
    // A pattern that matched nothing would pass every file below.
    expect(files.flatMap(relativeLinks).length).toBeGreaterThan(30);
  });

  it.each(files)('every relative link and image in %s resolves', (file) => {
    const broken = relativeLinks(file)
      .map(problem)
      .filter((p): p is string => p !== null);
    expect(broken).toEqual([]);
  });
});
