import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { FUNCTION_BUNDLE_OPTIONS } from '../../infra/constructs/esbuild-bundling.ts';
import { median } from '../lib/stats.ts';

export interface FunctionColdStart {
  name: string;
  /** Minified ESM bundle with every dependency inside (no layer). */
  bytes: number;
  /** Median time to import the bundle in a fresh node process (module init, no invocation). */
  initMs: number;
  initSamplesMs: number[];
  /** RSS right after init. */
  initRssMb: number;
  /** Largest contributors to the bundle, by npm package (or source folder). */
  topPackages: Array<{ name: string; kib: number }>;
}

const INIT_PROBE = `
const t0 = performance.now();
await import(process.env.BENCH_MODULE);
const ms = performance.now() - t0;
process.stdout.write('\\nBENCH_INIT ' + JSON.stringify({ ms, rss: process.memoryUsage().rss }) + '\\n');
process.exit(0);
`;

/** Every functions/<name>/handler.ts, bundled as the stacks do for Lambda. */
export async function bundleFunctions(projectRoot: string, outDir: string): Promise<Bundle[]> {
  const names = readdirSync(join(projectRoot, 'functions')).filter((n) => existsSync(join(projectRoot, 'functions', n, 'handler.ts')));
  const out: Bundle[] = [];
  for (const name of names.sort()) {
    const file = resolve(outDir, name, 'index.mjs');
    const { metafile } = await build({
      absWorkingDir: projectRoot,
      entryPoints: [join(projectRoot, 'functions', name, 'handler.ts')],
      outfile: file,
      ...FUNCTION_BUNDLE_OPTIONS,
      logLevel: 'error',
      metafile: true,
    });
    out.push({ name, file, bytes: statSync(file).size, topPackages: topPackages(metafile) });
  }
  return out;
}

interface Bundle {
  name: string;
  file: string;
  bytes: number;
  topPackages: Array<{ name: string; kib: number }>;
}

/** Output bytes by npm package (source files by their first two folders). */
export function topPackages(metafile: Metafile, top = 6): Array<{ name: string; kib: number }> {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split('/').slice(0, 2).join('/');
      bytes.set(pkg, (bytes.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return [...bytes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, b]) => ({ name, kib: b / 1024 }));
}

export async function runColdStart(o: { projectRoot: string; outDir: string; env: Record<string, string>; samples: number }): Promise<FunctionColdStart[]> {
  const bundles = await bundleFunctions(o.projectRoot, o.outDir);
  const results: FunctionColdStart[] = [];
  for (const b of bundles) {
    const samples: Array<{ ms: number; rss: number }> = [];
    for (let i = 0; i < o.samples; i++) {
      samples.push(await runProbe<{ ms: number; rss: number }>(INIT_PROBE, 'BENCH_INIT', { ...o.env, BENCH_MODULE: pathToFileURL(b.file).href }));
    }
    results.push({
      name: b.name,
      bytes: b.bytes,
      initMs: median(samples.map((s) => s.ms)),
      initSamplesMs: samples.map((s) => s.ms),
      initRssMb: median(samples.map((s) => s.rss)) / 2 ** 20,
      topPackages: b.topPackages,
    });
  }
  return results;
}

export class ProbeError extends Error {
  override readonly name = 'ProbeError';
}

/** Runs `code` as an ES module in a fresh node process and returns the JSON after `marker`. */
export function runProbe<T>(code: string, marker: string, env: Record<string, string>, timeoutMs = 120_000): Promise<T> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(`${marker} `));
      if (code !== 0 || !line) {
        fail(new ProbeError(`probe exited ${code ?? 'by signal'} without ${marker}: ${(stderr || stdout).slice(-800)}`));
        return;
      }
      ok(JSON.parse(line.slice(marker.length + 1)) as T);
    });
  });
}
