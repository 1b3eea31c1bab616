import { spawnSync } from 'node:child_process';

/**
 * What local:stack needs before its first step: the docker CLI, its compose plugin (the steps run
 * `docker compose`), and an engine that answers. The first one missing is named, with what to do,
 * instead of the step's own error halfway through.
 */
export function missingDocker(): string | undefined {
  const run = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 20_000 });
  const cli = run(['--version']);
  if (cli.error) return 'the docker command is not installed (local:stack runs LocalStack in Docker; npm run local needs no Docker)';
  if (run(['compose', 'version']).status !== 0) return 'docker compose is not available (install the Docker Compose plugin)';
  const engine = run(['info', '--format', '{{.ServerVersion}}']);
  if (engine.status !== 0) return `no Docker engine answers (${(engine.stderr || '').trim().split('\n')[0] || 'docker info failed'}): start Docker, then run again`;
  return undefined;
}
