import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, transform, type Plugin } from 'esbuild';
import { FUNCTION_BUNDLE_OPTIONS } from '../infra/constructs/esbuild-bundling.ts';

/**
 * `npm run bench`: runs bench/run.ts bundled by esbuild with the functions' own options, as Lambda
 * runs the code it times. Under tsx every function carries esbuild's name-keeping wrapper (tsx turns
 * keepNames on), which a Lambda bundle does not: it made ingest's decode 11.7 ms instead of 7.1 on a
 * 10,000-record batch. Packages stay external, loaded from node_modules as under tsx, for tapline
 * and the peers alike.
 */
const OUT = resolve('.tapline/bench/run.mjs');

/** Each module's import.meta.url stays its source file's, so paths it resolves from it (migrations, emulators) still hold. */
const ownImportMetaUrl: Plugin = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      const { code } = await transform(await readFile(path, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: FUNCTION_BUNDLE_OPTIONS.target,
        define: { 'import.meta.url': JSON.stringify(pathToFileURL(path).href) },
        // esbuild chains an input's inline map, so the bundle's map points into the .ts itself.
        sourcemap: 'inline',
        sourcefile: path,
      });
      return { contents: code, loader: 'js' };
    });
  },
};

await build({
  ...FUNCTION_BUNDLE_OPTIONS,
  mainFields: [...FUNCTION_BUNDLE_OPTIONS.mainFields],
  packages: 'external',
  entryPoints: [resolve('bench/run.ts')],
  outfile: OUT,
  plugins: [ownImportMetaUrl],
  // For --profile, which names the bundle's frames after their sources.
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'error',
});

const child = spawn(process.execPath, [OUT, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
