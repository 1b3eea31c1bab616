import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm run local:stack`: the `local` stage on LocalStack, with the TimescaleDB container as the
 * warehouse (LocalStack has no RDS Proxy; the functions connect straight to the container).
 * The steps are data so tests can check them without a Docker engine.
 */
export interface LocalStackOptions {
  readonly projectRoot: string;
  /** LocalStack edge endpoint, as published by docker-compose.yml. */
  readonly endpoint: string;
  readonly region: string;
  /** Where cdklocal writes the stack outputs (the simulator's function name). */
  readonly outputsFile: string;
  /** Invoke the simulator once after the deploy (the local stage has no schedule). */
  readonly simulate: boolean;
}

export interface CommandStep {
  readonly kind: 'command';
  readonly description: string;
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

export interface InvokeStep {
  readonly kind: 'invoke-simulator';
  readonly description: string;
  readonly endpoint: string;
  readonly region: string;
  readonly outputsFile: string;
  readonly stackName: string;
}

export type Step = CommandStep | InvokeStep;

export const LOCAL_STACK_NAME = 'tapline-local';

export const defaultOptions = (projectRoot: string): LocalStackOptions => ({
  projectRoot,
  endpoint: 'http://127.0.0.1:4566',
  region: 'us-east-1',
  outputsFile: join(projectRoot, '.tapline', 'localstack-outputs.json'),
  simulate: true,
});

/** LocalStack accepts any credentials; these keep the CLI and SDK from looking for real ones. */
export function localStackEnv(opts: LocalStackOptions): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: opts.region,
    AWS_DEFAULT_REGION: opts.region,
    AWS_ENDPOINT_URL: opts.endpoint,
  };
}

export class LocalStackSetupError extends Error {
  override readonly name = 'LocalStackSetupError';
}

/** cdklocal (package aws-cdk-local) from the project's node_modules. */
export function findCdkLocal(projectRoot: string): string {
  const bin = join(projectRoot, 'node_modules', '.bin', 'cdklocal');
  if (!existsSync(bin)) {
    throw new LocalStackSetupError('cdklocal not found: add the aws-cdk-local devDependency (npm i -D aws-cdk-local)');
  }
  return bin;
}

export function deploySteps(opts: LocalStackOptions, cdklocal: string): Step[] {
  const env = localStackEnv(opts);
  const account = '000000000000';
  const steps: Step[] = [
    {
      kind: 'command',
      description: 'start LocalStack and TimescaleDB and wait until both are healthy',
      command: 'docker',
      args: ['compose', '-f', join(opts.projectRoot, 'docker-compose.yml'), 'up', '--detach', '--wait'],
      env: {},
    },
    {
      kind: 'command',
      description: 'bootstrap the CDK toolkit stack in LocalStack',
      command: cdklocal,
      args: ['bootstrap', `aws://${account}/${opts.region}`, '-c', 'stage=local'],
      env,
    },
    {
      kind: 'command',
      description: 'deploy the local stage (runs the migrations against TimescaleDB)',
      command: cdklocal,
      args: ['deploy', LOCAL_STACK_NAME, '-c', 'stage=local', '--require-approval', 'never', '--outputs-file', opts.outputsFile],
      env,
    },
  ];
  if (opts.simulate) {
    steps.push({
      kind: 'invoke-simulator',
      description: 'start the simulator once (asynchronously)',
      endpoint: opts.endpoint,
      region: opts.region,
      outputsFile: opts.outputsFile,
      stackName: LOCAL_STACK_NAME,
    });
  }
  return steps;
}

export function teardownSteps(opts: LocalStackOptions): Step[] {
  return [
    {
      kind: 'command',
      description: 'stop LocalStack and TimescaleDB and drop their data',
      command: 'docker',
      args: ['compose', '-f', join(opts.projectRoot, 'docker-compose.yml'), 'down', '--volumes'],
      env: {},
    },
  ];
}
