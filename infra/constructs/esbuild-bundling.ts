import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ILocalBundling } from 'aws-cdk-lib';
import { buildSync, type BuildOptions } from 'esbuild';
import { InfraConfigError } from './errors.ts';

export interface EsbuildBundlingOptions {
  /** Repository root: package.json there maps `#core/*` to layers/core/src. */
  readonly projectRoot: string;
  /** Handler module relative to projectRoot. */
  readonly entry: string;
  /** Packages left to the dependency layer; empty bundles everything. */
  readonly external: string[];
  /** Extra files or directories (relative to projectRoot) copied into the asset under the same name. */
  readonly assetFiles: string[];
}

// ESM output cannot `require()` Node built-ins from bundled CommonJS packages (pg, pg-copy-streams)
// unless `require` exists in module scope.
const REQUIRE_SHIM = "import { createRequire as __taplineCreateRequire } from 'node:module'; const require = __taplineCreateRequire(import.meta.url);";

/** How every function is bundled; the bench's cold start and scripts/measure-kpl-codec.ts measure bundles with the same options. */
export const FUNCTION_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  banner: { js: REQUIRE_SHIM },
} as const satisfies BuildOptions;

export class BundlingError extends InfraConfigError {
  override readonly name = 'BundlingError';
}

/**
 * Bundles one handler with the local esbuild (no Docker) into `index.mjs` + source map.
 * The options are public fields on purpose: CDK keys its per-process bundling cache on the
 * JSON of the bundling options, and a bare `tryBundle` closure serialises to nothing, which
 * would hand every function the first function's bundle.
 * Bundling runs only when CDK needs the asset, so an entry that does not exist yet fails a real
 * synth (with esbuild's message) but not a test synth that skips bundling.
 */
export class EsbuildBundling implements ILocalBundling {
  constructor(public readonly options: EsbuildBundlingOptions) {}

  tryBundle(outputDir: string): boolean {
    const { projectRoot, entry, external, assetFiles } = this.options;
    const entryPath = join(projectRoot, entry);
    if (!existsSync(entryPath)) throw new BundlingError(`cannot bundle ${entry}: the file does not exist`);
    buildSync({
      ...FUNCTION_BUNDLE_OPTIONS,
      mainFields: [...FUNCTION_BUNDLE_OPTIONS.mainFields],
      absWorkingDir: projectRoot,
      entryPoints: [entryPath],
      outfile: join(outputDir, 'index.mjs'),
      external,
      sourcemap: true,
      sourcesContent: false,
      logLevel: 'error',
    });
    for (const file of assetFiles) {
      cpSync(join(projectRoot, file), join(outputDir, file), { recursive: true });
    }
    return true;
  }
}
