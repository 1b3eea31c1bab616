import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { putRecords } from '#core/producer';
import { sendMessages } from '#core/queue';
import { encodeRecord, type TelemetryRecord } from '#core/record';
import { writeConnectionFile } from '../../local/cli/connectionFile.ts';
import { dataDir, lockDataDir, type DataDirLock } from '../../local/cli/dataDir.ts';
import { queueDepth, type Queue } from '../../local/environment.ts';
import { peekQueue } from '../helpers/faults/accounting.ts';
import { readWholeStream } from '../helpers/kinesis.ts';
import { payloadContains, throwOnRecord } from '../helpers/faults/handlerFaults.ts';
import { faultConfig, startFaultRun, type FaultRun } from '../helpers/faults/harness.ts';
import type { LocalPipeline } from '../../local/pipeline.ts';
import { runCommandProcess } from '../helpers/commandProcess.ts';
import { ruleEvent } from '../helpers/sqs.ts';
import { envelopes } from '#core/eventsMessage';

const MARKER = 'redrive-marker-51c2';
let run: FaultRun;
let pipeline: LocalPipeline;
let heal: () => void;
let lock: DataDirLock | undefined;

beforeAll(async () => {
  // One retry before the mapping gives up, so a failing batch reaches OnFailure in a second.
  run = await startFaultRun(faultConfig((c) => ({ ...c, ingest: { ...c.ingest, maxRetryAttempts: 1 } })));
  const fault = throwOnRecord(payloadContains(MARKER));
  heal = fault.heal;
  pipeline = run.pipeline({ wrapIngest: fault.wrap });
  await pipeline.start();
  // What `npm run local` does for the operator commands run beside it: it holds its data dir and
  // says there where its parts listen.
  const dir = dataDir(run.logDir);
  lock = lockDataDir(dir, 'npm run local');
  writeConnectionFile(dir, run.env);
});
afterAll(async () => {
  lock?.release();
  await pipeline?.stop();
  await run?.stop();
});

const redrive = (...args: string[]) => runCommandProcess('ops/bin/redrive.ts', [...args, '--data-dir', run.logDir]);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}
const depthIs = (queue: Queue, n: number) => async () => (await queueDepth(run.env.sqs, queue)) === n;

async function put(payloads: Array<TelemetryRecord | Buffer>): Promise<void> {
  const entries = payloads.map((p) => (Buffer.isBuffer(p) ? { data: p, partitionKey: 'bad-producer' } : { data: encodeRecord(p), partitionKey: p.source }));
  const result = await putRecords(run.env.kinesis, run.env.streamName, entries);
  expect(result.failed).toEqual([]);
}

// Distinct instants: two readings of one series at the same ts would be one identity (a conflict).
let instant = Date.now();
const reading = (id: string, fact: string, value: number): TelemetryRecord => ({ v: 1, id, source: 'FBE_09', fact, ts: new Date(++instant).toISOString(), value });

async function rows(): Promise<unknown[]> {
  const { rows: r } = await run.env.db.query('SELECT source, fact_name, ts, value_float, sample_count, event_id FROM telemetry_events ORDER BY source, fact_name, ts');
  return r;
}

describe('npm run redrive', () => {
  it('lists invalid records with reason and payload, keeps them, and deletes them only with --discard', async () => {
    // Prepare
    await put([reading('ok-1', 'ph', 5.3), Buffer.from('temperature=20.5'), reading('ok-2', 'ph', 5.4)]);
    await until('the invalid record in the ingest DLQ', depthIs(run.env.queues.ingestDlq, 1));

    // Act
    const listed = await redrive('ingest');
    const depthAfterListing = await queueDepth(run.env.sqs, run.env.queues.ingestDlq);
    const discarded = await redrive('ingest', '--discard', 'not_json');

    // Assess
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/invalid records: 1 \(0 discarded, 1 kept\)/);
    expect(listed.stdout).toMatch(/not_json\s+shardId-\d+\s+\d+\s+bad-producer\s+temperature=20\.5/);
    expect(depthAfterListing).toBe(1);
    expect(discarded.stdout).toMatch(/invalid records: 1 \(1 discarded, 0 kept\)/);
    expect(await queueDepth(run.env.sqs, run.env.queues.ingestDlq)).toBe(0);
  });

  it('replays a failed batch from its OnFailure range, and a second replay of it changes no row', async () => {
    // Prepare: a record the handler throws on goes to OnFailure; then the bug is "fixed".
    await put([reading(MARKER, 'temperature_c', 66.6)]);
    await until('the OnFailure message', depthIs(run.env.queues.onFailure, 1));
    const [failure] = await peekQueue(run.env, run.env.queues.onFailure.url);
    heal();

    // Act
    const first = await redrive('ingest');
    await until('the replayed record written', async () => (await rows()).some((r) => (r as { event_id: string }).event_id === MARKER));
    expect(await pipeline.drain(30_000)).toBe(true);
    const afterFirst = await rows();
    await run.env.sqs.send(new SendMessageCommand({ QueueUrl: run.env.queues.onFailure.url, MessageBody: failure }));
    const second = await redrive('ingest');
    expect(await pipeline.drain(30_000)).toBe(true);

    // Assess
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(first.stdout).toMatch(/failed batches \(OnFailure\): 1/);
    expect(first.stdout).toMatch(/RetryAttemptsExhausted\s+replayed \(1 put\)/);
    expect(await rows()).toEqual(afterFirst);
    expect(await queueDepth(run.env.sqs, run.env.queues.onFailure)).toBe(0);
    const copies = (await readWholeStream(run.env.kinesis, run.env.streamName)).filter((r) => Buffer.from(r.data).includes(MARKER));
    expect(copies).toHaveLength(3);
  });

  it('moves events DLQ messages back to the events queue, and moving them twice writes each event once', async () => {
    // Prepare: derived events that were dead-lettered while the writer was broken.
    // Five as single events, twenty in an envelope as ingest sends them.
    const events = Array.from({ length: 25 }, () => ruleEvent({ source: 'FBE_10' }));
    const singles = events.map((e) => ({ id: e.id, body: JSON.stringify(e) }));
    const dead = [...singles.slice(0, 5), ...envelopes(singles.slice(5))];
    await sendMessages(run.env.sqs, run.env.queues.eventsDlq.url, dead);
    const stored = async () =>
      (await run.env.db.query<{ event_id: string }>("SELECT event_id FROM rule_events WHERE source = 'FBE_10' ORDER BY event_id")).rows.map((r) => r.event_id);

    // Act
    const first = await redrive('events');
    expect(await pipeline.drain(30_000)).toBe(true);
    const afterFirst = await stored();
    await sendMessages(run.env.sqs, run.env.queues.eventsDlq.url, dead);
    const second = await redrive('events');
    expect(await pipeline.drain(30_000)).toBe(true);

    // Assess
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(first.stdout).toMatch(/6 message\(s\); 6 moved to the events queue/);
    expect(first.stdout).toMatch(new RegExp(` events +${events[5]!.id} \\+19 +0 `));
    expect(afterFirst).toEqual(events.map((e) => e.id).sort());
    expect(await stored()).toEqual(afterFirst);
    expect(await queueDepth(run.env.sqs, run.env.queues.eventsDlq)).toBe(0);
  });
});
