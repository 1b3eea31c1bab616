import { cpSync, existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AssetHashType, DockerImage, RemovalPolicy, type ILocalBundling } from 'aws-cdk-lib';
import { Architecture, Code, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { InfraConfigError } from './errors.ts';

/**
 * Why the layer carries node_modules and not the #core code:
 * - the shared runtime dependencies (pg, zod, middy, Powertools, AWS SDK clients) are ~95% of every
 *   bundle and change only with package-lock.json, so one layer version serves every function and
 *   every deploy that only touches tapline code uploads a few kB per function;
 * - #core is small and each function imports a different slice of it; esbuild tree-shakes it into
 *   the function bundle, whereas a bundled core in the layer would need its `#core/*` imports rewritten
 *   to absolute /opt paths and code splitting to keep one module instance per package;
 * - marking whole packages external keeps exactly one copy of each package per container (one
 *   pg type-parser registry, one Powertools instance), since function code and #core both import
 *   them from /opt/nodejs/node_modules, which the Node.js runtime resolves for ES modules too.
 */
export interface DependencyLayerProps {
  /**
   * Repository root holding package.json, package-lock.json and the installed node_modules.
   */
  readonly projectRoot: string;
  /**
   * Runtimes the layer is published for.
   * @default [Runtime.NODEJS_22_X]
   */
  readonly compatibleRuntimes?: Runtime[];
}

interface LockPackage {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
}

/** Files the runtime never loads: type declarations, source maps, docs (licences stay). */
const SKIPPED = /(\.d\.ts|\.d\.mts|\.d\.cts|\.map|README\.md|CHANGELOG\.md)$|\/dist-types(\/|$)/;

/** Copies installed packages into the layer layout (nodejs/node_modules/...), without the files Node never loads. */
export class NodeModulesBundling implements ILocalBundling {
  constructor(
    public readonly projectRoot: string,
    public readonly packagePaths: string[],
  ) {}

  tryBundle(outputDir: string): boolean {
    for (const path of this.packagePaths) {
      cpSync(join(this.projectRoot, path), join(outputDir, 'nodejs', path), {
        recursive: true,
        dereference: true,
        filter: (source) => !SKIPPED.test(source),
      });
    }
    return true;
  }
}

export class DependencyLayerError extends InfraConfigError {
  override readonly name = 'DependencyLayerError';
}

/**
 * A Lambda layer with the production dependency closure from package-lock.json
 * (`npm ci --omit=dev` without a network), copied from the installed node_modules.
 */
export class DependencyLayer extends Construct {
  /** The published layer version. */
  public readonly layer: LayerVersion;
  /** Packages the functions must leave to the layer (package.json `dependencies`). */
  public readonly externalModules: string[];
  /** node_modules paths (relative to the project root) the layer contains. */
  public readonly packagePaths: string[];

  constructor(scope: Construct, id: string, props: DependencyLayerProps) {
    super(scope, id);
    const lockPath = join(props.projectRoot, 'package-lock.json');
    const manifestPath = join(props.projectRoot, 'package.json');
    if (!existsSync(lockPath) || !existsSync(manifestPath)) {
      throw new DependencyLayerError(`projectRoot "${props.projectRoot}" has no package.json and package-lock.json`);
    }
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { dependencies?: Record<string, string> };
    const lock = JSON.parse(readFileSync(lockPath, 'utf8')) as { packages?: Record<string, LockPackage> };
    this.externalModules = Object.keys(manifest.dependencies ?? {}).sort();
    if (this.externalModules.length === 0) throw new DependencyLayerError('package.json declares no runtime dependencies');

    // Top-level production packages only: copying a package directory also copies its nested node_modules.
    const production = Object.entries(lock.packages ?? {}).filter(
      ([path, pkg]) => path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('/node_modules/') && !pkg.dev && !pkg.devOptional,
    );
    this.packagePaths = production.map(([path]) => path).filter((path) => existsSync(join(props.projectRoot, path)));
    const missing = this.externalModules.filter((name) => !this.packagePaths.includes(`node_modules/${name}`));
    if (missing.length > 0) throw new DependencyLayerError(`not installed: ${missing.join(', ')} (run npm ci)`);

    // The layer's content is a function of the locked versions (and the skip list) alone, so hashing those avoids
    // fingerprinting tens of MB of node_modules on every synth.
    const fingerprint = createHash('sha256')
      .update(SKIPPED.source)
      .update(JSON.stringify(production.map(([path, pkg]) => [path, pkg.version ?? ''])))
      .digest('hex');

    this.layer = new LayerVersion(this, 'Layer', {
      description: 'tapline runtime dependencies (production closure of package-lock.json)',
      compatibleRuntimes: props.compatibleRuntimes ?? [Runtime.NODEJS_22_X],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
      // Functions keep a deleted version's content, so old versions need not outlive an update or teardown.
      removalPolicy: RemovalPolicy.DESTROY,
      // The source directory is never read: local bundling builds the content and the hash is custom.
      code: Code.fromAsset(join(props.projectRoot, 'layers'), {
        assetHashType: AssetHashType.CUSTOM,
        assetHash: fingerprint,
        bundling: {
          // Required by the type; never pulled, because local bundling always succeeds or throws.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: new NodeModulesBundling(props.projectRoot, this.packagePaths),
        },
      }),
    });
  }
}
