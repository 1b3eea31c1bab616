import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * A module inside the installed fauxqs package, the very instance fauxqs itself uses (its `exports`
 * map hides these files from a bare import). The local SQS adjusts fauxqs where it differs from
 * AWS through them, at startup, instead of editing node_modules; a fauxqs upgrade that moves them
 * fails loudly here and in test/integration/sqs*.test.ts.
 */
export async function importFauxqs<T>(path: string): Promise<T> {
  const dirs = createRequire(import.meta.url).resolve.paths('fauxqs') ?? [];
  for (const dir of dirs) {
    const file = join(dir, 'fauxqs', path);
    if (existsSync(file)) return (await import(pathToFileURL(file).href)) as T;
  }
  throw new Error(`fauxqs is not installed (looked for ${path} in ${dirs.join(', ')})`);
}
