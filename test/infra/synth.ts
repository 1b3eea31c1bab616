import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { StageConfig } from '#config/stages';
import { addTaplineStage } from '../../infra/tapline-app.ts';
import type { TaplineStack } from '../../infra/stacks/tapline-stack.ts';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The feature flags `cdk synth` applies (cdk.json), so tests see the template the CLI produces. */
const cdkJsonContext = (JSON.parse(readFileSync(`${projectRoot}/cdk.json`, 'utf8')) as { context: Record<string, unknown> }).context;

export interface SynthesizedStage {
  app: App;
  stack: TaplineStack;
  template: Template;
  json: CfnTemplate;
  /** The synthesised template file, for validators that read files. */
  templatePath: string;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/**
 * One stage's stack, synthesised without bundling (assets are not built: contracts only).
 * cdk-nag is left off here; the nag tests run the pack on the same construct tree. CDK's built-in
 * CloudFormation validation is off too: it only warns, so stack.test.ts runs it itself and asserts.
 */
export function synthStage(config: StageConfig, opts: { nag?: boolean } = {}): SynthesizedStage {
  const app = new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = addTaplineStage(app, config, { projectRoot, nag: opts.nag ?? false });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as CfnTemplate, templatePath: join(app.outdir, stack.templateFile) };
}

export function resourcesOfType(json: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

/** Asset hashes and the migrations hash change with unrelated edits; snapshots compare structure. */
export function normalise(json: CfnTemplate): unknown {
  return JSON.parse(JSON.stringify(json).replace(/[0-9a-f]{64}/g, '<hash>'));
}
