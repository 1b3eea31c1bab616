import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, note, runCommand } from '../cli/run.ts';
import { missingDocker } from './docker.ts';
import { invokeSimulator } from './invoke.ts';
import { defaultOptions, deploySteps, findCdkLocal, LocalStackSetupError, teardownSteps, type Step } from './plan.ts';

const USAGE = `npm run local:stack [-- --down] [-- --no-simulate]
Deploys the local stage to LocalStack (docker-compose.yml) with cdklocal and starts the simulator;
--down stops the containers and drops their data. Needs Docker with the compose plugin
(npm run local does not).
Exit status: 0 done, 1 Docker missing or a step failed, 2 usage.`;

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

runCommand({ usage: USAGE, options: { down: { type: 'boolean', default: false }, 'no-simulate': { type: 'boolean', default: false } } }, async ({ values }) => {
  const missing = missingDocker();
  if (missing) throw new CliError(`local:stack: ${missing}`);
  const options = { ...defaultOptions(projectRoot), simulate: !values['no-simulate'] };
  mkdirSync(dirname(options.outputsFile), { recursive: true });
  try {
    const steps = values.down ? teardownSteps(options) : deploySteps(options, findCdkLocal(projectRoot));
    for (const step of steps) await execute(step);
  } catch (e) {
    if (e instanceof LocalStackSetupError) throw new CliError(`local:stack failed: ${e.message}`);
    throw e;
  }
  return 0;
});

async function execute(step: Step): Promise<void> {
  note(`local:stack: ${step.description}`);
  if (step.kind === 'invoke-simulator') {
    note(`local:stack: invoked ${await invokeSimulator(step)}`);
    return;
  }
  const result = spawnSync(step.command, step.args, { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, ...step.env } });
  if (result.error) throw new LocalStackSetupError(`${step.command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new LocalStackSetupError(`${step.command} ${step.args.join(' ')} exited with ${result.status}`);
}
