import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BatchSource } from '../lib/syntheticBatches.ts';
import { runProbe } from './coldStart.ts';

export interface MemoryResult {
  mode: 'merge' | 'raw';
  records: number;
  /** Peak resident set of the whole process (as Lambda's Max Memory Used), MB. */
  peakRssMb: number;
  /** RSS after module init, before the event was read, MB. */
  afterInitRssMb: number;
}

// A Lambda-like invocation: the event arrives as JSON text and is parsed in the process, as the
// runtime does, so its size counts towards the peak.
const INVOKE_PROBE = `
import { readFileSync } from 'node:fs';
const { handler } = await import(process.env.BENCH_MODULE);
const afterInit = process.memoryUsage().rss;
const event = JSON.parse(readFileSync(process.env.BENCH_EVENT, 'utf8'));
const deadline = Date.now() + 60000;
const context = {
  callbackWaitsForEmptyEventLoop: false, functionName: 'tapline-ingest', functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:tapline-ingest', memoryLimitInMB: '1024',
  awsRequestId: 'bench', logGroupName: '/aws/lambda/tapline-ingest', logStreamName: 'bench',
  getRemainingTimeInMillis: () => deadline - Date.now(), done() {}, fail() {}, succeed() {},
};
const response = await handler(event, context);
const failures = (response && response.batchItemFailures) ? response.batchItemFailures.length : 0;
process.stdout.write('\\nBENCH_RSS ' + JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, afterInit, failures }) + '\\n');
process.exit(0);
`;

/** Peak RSS of the bundled ingest handler invoked once with a full batch, in a fresh process. */
export async function runMemory(o: {
  bundle: string;
  workDir: string;
  env: Record<string, string>;
  batches: BatchSource;
  batchSize: number;
  modes: ReadonlyArray<'merge' | 'raw'>;
}): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const mode of o.modes) {
    const eventFile = join(o.workDir, `event-${mode}.json`);
    writeFileSync(eventFile, JSON.stringify(o.batches.next(o.batchSize, `shardId-rss-${mode}`).event));
    const r = await runProbe<{ maxRssKb: number; afterInit: number; failures: number }>(INVOKE_PROBE, 'BENCH_RSS', {
      ...o.env,
      INGEST_MODE: mode,
      BENCH_MODULE: pathToFileURL(o.bundle).href,
      BENCH_EVENT: eventFile,
    });
    if (r.failures !== 0) throw new Error(`memory probe (${mode}): the handler reported ${r.failures} failed record(s)`);
    results.push({ mode, records: o.batchSize, peakRssMb: r.maxRssKb / 1024, afterInitRssMb: r.afterInit / 2 ** 20 });
  }
  return results;
}
