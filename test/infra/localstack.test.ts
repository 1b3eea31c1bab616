import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { addTaplineStage } from '../../infra/tapline-app.ts';
import { invokeSimulator, InvokeError } from '../../local/stack/invoke.ts';
import { defaultOptions, deploySteps, findCdkLocal, LOCAL_STACK_NAME, teardownSteps, type CommandStep, type InvokeStep } from '../../local/stack/plan.ts';
import { projectRoot } from './synth.ts';

// js-yaml arrives with eslint; the compose file is the only YAML tapline reads.
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

interface ComposeService {
  image: string;
  ports?: string[];
  environment?: Record<string, string>;
  networks?: string[];
  volumes?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string }>;
}

describe('docker-compose.yml for the LocalStack path', () => {
  let compose: ComposeFile;
  beforeAll(async () => {
    compose = yaml.load(await readFile(join(projectRoot, 'docker-compose.yml'), 'utf8')) as ComposeFile;
  });

  it('runs LocalStack, TimescaleDB and Grafana with every port published on 127.0.0.1 only', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'localstack', 'timescaledb']);
    expect(compose.services.localstack?.image).toMatch(/^localstack\/localstack:\d/);
    expect(compose.services.timescaledb?.image).toMatch(/^timescale\/timescaledb:[\d.]+-pg\d+$/);
    const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(ports).toEqual(['127.0.0.1:4566:4566', '127.0.0.1:5433:5432', '127.0.0.1:3000:3000']);
  });

  it('points Grafana at the TimescaleDB container as the read-only role, with the provisioning of grafana/', () => {
    const grafana = compose.services.grafana;
    expect(grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(grafana?.environment).toMatchObject({ TAPLINE_DB_URL: 'timescaledb:5432', TAPLINE_READER_USER: 'tapline_reader' });
    expect(grafana?.volumes).toEqual(['./grafana/provisioning:/etc/grafana/provisioning:ro', './grafana/dashboards:/var/lib/grafana/dashboards:ro']);
    expect(grafana?.networks).toEqual(['tapline']);
  });

  it('puts the Lambda containers on the network where the local stage finds the database, without a password', () => {
    const local = loadStageConfig('local');
    const url = new URL(local.localstack?.databaseUrl ?? '');
    const timescale = compose.services.timescaledb;
    const network = compose.networks.tapline?.name;
    expect(compose.services.localstack?.environment?.LAMBDA_DOCKER_NETWORK).toBe(network);
    expect(timescale?.networks).toEqual(['tapline']);
    expect(url.hostname).toBe('timescaledb');
    expect(url.port).toBe('5432');
    expect(url.password).toBe('');
    expect(timescale?.environment).toMatchObject({ POSTGRES_USER: url.username, POSTGRES_DB: url.pathname.slice(1), POSTGRES_HOST_AUTH_METHOD: 'trust' });
    expect(timescale?.environment).not.toHaveProperty('POSTGRES_PASSWORD');
  });
});

describe('npm run local:stack', () => {
  const options = defaultOptions(projectRoot);

  it('starts the containers, bootstraps, deploys the local stage with cdklocal, then starts the simulator', () => {
    // Act
    const steps = deploySteps(options, '/bin/cdklocal');

    // Assess
    const commands = steps.filter((s): s is CommandStep => s.kind === 'command').map((s) => [s.command, ...s.args].join(' '));
    expect(commands).toEqual([
      `docker compose -f ${join(projectRoot, 'docker-compose.yml')} up --detach --wait`,
      '/bin/cdklocal bootstrap aws://000000000000/us-east-1 -c stage=local',
      `/bin/cdklocal deploy ${LOCAL_STACK_NAME} -c stage=local --require-approval never --outputs-file ${options.outputsFile}`,
    ]);
    expect(steps.at(-1)).toMatchObject({ kind: 'invoke-simulator', stackName: LOCAL_STACK_NAME, outputsFile: options.outputsFile });
    for (const step of steps.filter((s): s is CommandStep => s.kind === 'command' && s.command !== 'docker')) {
      expect(step.env).toMatchObject({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test' });
    }
  });

  it('leaves the simulator alone when asked, and tears the containers down with their data', () => {
    expect(deploySteps({ ...options, simulate: false }, '/bin/cdklocal').map((s) => s.kind)).toEqual(['command', 'command', 'command']);
    expect(teardownSteps(options).map((s) => (s.kind === 'command' ? s.args.slice(-2) : []))).toEqual([['down', '--volumes']]);
  });

  it('deploys a stack whose name and simulator output are the ones the script reads', () => {
    const stack = addTaplineStage(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), loadStageConfig('local'), { projectRoot, nag: false });
    expect(stack.stackName).toBe(LOCAL_STACK_NAME);
    expect(stack.node.tryFindChild('SimulatorFunctionName')).toBeDefined();
  });

  it('says which package to add when cdklocal is not installed', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tapline-nocdklocal-'));
    try {
      expect(() => findCdkLocal(empty)).toThrow(/add the aws-cdk-local devDependency/);
    } finally {
      await rm(empty, { recursive: true });
    }
  });
});

describe('starting the simulator through the Lambda API', () => {
  let server: Server;
  let requests: { url: string; invocationType: string; region: string }[];
  let status = 202;
  let dir: string;
  let step: InvokeStep;

  beforeAll(async () => {
    requests = [];
    // A stand-in for LocalStack's Lambda Invoke endpoint on 127.0.0.1.
    server = createServer((req: IncomingMessage, res) => {
      requests.push({
        url: req.url ?? '',
        invocationType: String(req.headers['x-amz-invocation-type']),
        region: /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '',
      });
      req.resume();
      req.on('end', () => res.writeHead(status).end(status === 202 ? '' : '{"message":"Function not found"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    dir = await mkdtemp(join(tmpdir(), 'tapline-outputs-'));
    step = {
      kind: 'invoke-simulator',
      description: 'test',
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      outputsFile: join(dir, 'outputs.json'),
      stackName: LOCAL_STACK_NAME,
    };
    await writeFile(step.outputsFile, JSON.stringify({ [LOCAL_STACK_NAME]: { SimulatorFunctionName: 'tapline-local-Simulator-abc', StreamName: 's' } }));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true });
  });

  it('invokes the function named in the deploy outputs asynchronously', async () => {
    // Act
    const name = await invokeSimulator(step);

    // Assess
    expect(name).toBe('tapline-local-Simulator-abc');
    expect(requests).toEqual([{ url: '/2015-03-31/functions/tapline-local-Simulator-abc/invocations', invocationType: 'Event', region: 'us-east-1' }]);
  });

  it('fails with the response when the invocation is refused', async () => {
    status = 404;
    await expect(invokeSimulator(step)).rejects.toThrow(InvokeError);
    await expect(invokeSimulator(step)).rejects.toThrow(/returned 404: \{"message":"Function not found"\}/);
  });
});
