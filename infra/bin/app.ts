import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { loadStageConfig, StageConfigError } from '#config/stages';
import { InfraConfigError } from '../constructs/errors.ts';
import { addTaplineStage } from '../tapline-app.ts';

/**
 * `npx cdk synth|deploy -c stage=<local|dev|staging|prod>`: the only place that reads CDK context.
 * An unknown stage or a bad config value stops here with the field's name, before any construct exists.
 */
const app = new App();
const stage: unknown = app.node.tryGetContext('stage');
try {
  const config = loadStageConfig(typeof stage === 'string' ? stage : undefined);
  addTaplineStage(app, config, { projectRoot: fileURLToPath(new URL('../..', import.meta.url)) });
  app.synth();
} catch (e) {
  if (!(e instanceof StageConfigError || e instanceof InfraConfigError)) throw e;
  console.error(`tapline: ${e.message} (pass -c stage=<name>)`);
  process.exitCode = 1;
}
