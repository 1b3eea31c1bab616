import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { invokeSimulator } from './invoke.ts';
import { defaultOptions, deploySteps, findCdkLocal, LocalStackSetupError, teardownSteps, type Step } from './plan.ts';

const usage = `npm run local:stack [-- --down] [-- --no-simulate]
Deploys the local stage to LocalStack (docker-compose.yml) with cdklocal and starts the simulator;
--down stops the containers and drops their data.`;

const { values } = parseArgs({
  options: { down: { type: 'boolean', default: false }, 'no-simulate': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const options = { ...defaultOptions(projectRoot), simulate: !values['no-simulate'] };

async function execute(step: Step): Promise<void> {
  console.log(`local:stack: ${step.description}`);
  if (step.kind === 'invoke-simulator') {
    console.log(`local:stack: invoked ${await invokeSimulator(step)}`);
    return;
  }
  const result = spawnSync(step.command, step.args, { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, ...step.env } });
  if (result.error) throw new LocalStackSetupError(`${step.command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new LocalStackSetupError(`${step.command} ${step.args.join(' ')} exited with ${result.status}`);
}

try {
  mkdirSync(dirname(options.outputsFile), { recursive: true });
  const steps = values.down ? teardownSteps(options) : deploySteps(options, findCdkLocal(projectRoot));
  for (const step of steps) await execute(step);
} catch (e) {
  if (!(e instanceof Error)) throw e;
  console.error(`local:stack failed: ${e.message}`);
  process.exitCode = 1;
}
