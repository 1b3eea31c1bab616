import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { loadStageConfig, StageConfigError, STAGES } from '#config/stages';
import { InfraConfigError } from '../constructs/errors.ts';
import { addTaplineStage } from '../tapline-app.ts';

/**
 * `npx cdk synth|deploy -c stage=<local|dev|staging|prod>`: the only place that reads CDK context.
 * Without -c stage it is dev, said on stderr (stdout is the template with `cdk synth`): the stage
 * that costs least to deploy by mistake. An unknown stage or a bad config value stops here with
 * the field's name, before any construct exists.
 */
const DEFAULT_STAGE = 'dev';
const app = new App();
const given: unknown = app.node.tryGetContext('stage');
if (given === undefined) console.error(`tapline: no -c stage given: stage ${DEFAULT_STAGE} (one of ${STAGES.join(', ')})`);
const stage = given === undefined ? DEFAULT_STAGE : given;
try {
  const config = loadStageConfig(typeof stage === 'string' ? stage : undefined);
  addTaplineStage(app, config, { projectRoot: fileURLToPath(new URL('../..', import.meta.url)) });
  app.synth();
} catch (e) {
  if (!(e instanceof StageConfigError || e instanceof InfraConfigError)) throw e;
  console.error(`tapline: ${e.message} (pass -c stage=<name>)`);
  process.exitCode = 1;
}
