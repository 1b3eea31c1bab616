import { Tags, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { StageConfig } from '#config/stages';
import { TaplineStack } from './stacks/tapline-stack.ts';

export interface TaplineAppOptions {
  /** Repository root (handlers, migrations, node_modules). */
  readonly projectRoot: string;
  /**
   * Run cdk-nag's AwsSolutions pack at synth: any unacknowledged finding fails the synth.
   * @default true
   */
  readonly nag?: boolean;
}

/** Adds one stage's stack to the app; infra/bin/app.ts and the infra tests share this. */
export function addTaplineStage(app: App, config: StageConfig, options: TaplineAppOptions): TaplineStack {
  const stack = new TaplineStack(app, `Tapline-${config.stage}`, {
    stackName: `tapline-${config.stage}`,
    description: `tapline telemetry pipeline (${config.stage})`,
    config,
    projectRoot: options.projectRoot,
  });
  Tags.of(stack).add('project', 'tapline');
  Tags.of(stack).add('stage', config.stage);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
