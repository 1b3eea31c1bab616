import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import type { InvokeStep } from './plan.ts';

const Outputs = z.record(z.string(), z.record(z.string(), z.string()));

export class InvokeError extends Error {
  override readonly name = 'InvokeError';
}

export async function simulatorFunctionName(outputsFile: string, stackName: string): Promise<string> {
  const outputs = Outputs.parse(JSON.parse(await readFile(outputsFile, 'utf8')));
  const name = outputs[stackName]?.SimulatorFunctionName;
  if (!name) throw new InvokeError(`${outputsFile} has no SimulatorFunctionName output for ${stackName}`);
  return name;
}

/**
 * Invokes the simulator through LocalStack's Lambda Invoke API. An `Event` invocation returns at
 * once (202) while the simulator produces for its configured duration. LocalStack does not check
 * signatures; the Authorization header only tells it the region.
 */
export async function invokeSimulator(step: InvokeStep): Promise<string> {
  const name = await simulatorFunctionName(step.outputsFile, step.stackName);
  const url = `${step.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Amz-Invocation-Type': 'Event',
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20240101/${step.region}/lambda/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: '{}',
  });
  if (response.status !== 202) throw new InvokeError(`invoking ${name} returned ${response.status}: ${await response.text()}`);
  return name;
}
