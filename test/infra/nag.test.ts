import { App, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { addTaplineStage } from '../../infra/tapline-app.ts';
import { projectRoot } from './synth.ts';

// The per-stage "no unacknowledged finding" tests live in stack.test.ts (they reuse its synths);
// these prove that those tests and `cdk synth` would catch a finding, and audit the acknowledgements.

const newApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });

describe('cdk-nag AwsSolutions on tapline', () => {
  it('reports a resource that breaks a rule and that nobody acknowledged', () => {
    // Prepare
    const stack = addTaplineStage(newApp(), loadStageConfig('local'), { projectRoot, nag: false });
    new Queue(stack, 'Careless', { encryption: QueueEncryption.UNENCRYPTED });

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);

    // Assess
    const rules = report.violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
    expect(report.violations.flatMap((v) => v.violatingResources.map((r) => r.constructPath))).toContain('Tapline-local/Careless/Resource');
  });

  it('fails the synth of the app when a finding is not acknowledged', () => {
    // Prepare
    const app = newApp();
    const stack = addTaplineStage(app, loadStageConfig('local'), { projectRoot });
    new Queue(stack, 'Careless', { encryption: QueueEncryption.UNENCRYPTED });

    // Act + Assess
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  it('acknowledges each finding with a reason, and only the reviewed rules', () => {
    // Prepare
    const stacks = (['dev', 'prod'] as const).map((stage) => addTaplineStage(newApp(), loadStageConfig(stage), { projectRoot, nag: false }));

    // Act
    const acknowledged = stacks.flatMap((stack) =>
      stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>))
        .filter(([rule]) => rule.startsWith('Annotation::AwsSolutions-'))
        .map(([rule, reason]) => ({ rule: rule.replace('Annotation::', '').replace(/<[A-Za-z0-9]+\.Arn>/, '<fn>'), reason })),
    );

    // Assess
    for (const { rule, reason } of acknowledged) expect(reason.length, rule).toBeGreaterThan(40);
    expect([...new Set(acknowledged.map((a) => a.rule))].sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::<fn>:*]',
      'AwsSolutions-L1',
      'AwsSolutions-RDS10',
      'AwsSolutions-RDS11',
      'AwsSolutions-RDS3',
      'AwsSolutions-SQS3',
    ]);
  });
});
