import type { buildApp } from 'fauxqs';
import { importFauxqs } from './fauxqsInternals.ts';

type FauxqsApp = ReturnType<typeof buildApp>;

interface FauxqsMessage {
  messageId: string;
}

interface FauxqsQueue {
  arn: string;
  enqueue: (this: FauxqsQueue, message: FauxqsMessage) => unknown; // a property: trackRedrive swaps it
}

type TraceHeader = { MessageSystemAttributes?: { AWSTraceHeader?: { StringValue?: string } } };

interface Request {
  SendMessage: TraceHeader;
  SendMessageBatch: { Entries?: Array<TraceHeader & { Id?: string }> };
  ReceiveMessage: { AttributeNames?: string[]; MessageSystemAttributeNames?: string[] };
}

/** System attributes SQS returns for a message that fauxqs does not keep, by message id. */
const kept = new Map<string, Record<string, string>>();
const firstQueue = new WeakMap<FauxqsMessage, string>();
let redriveTracked = false;

const keep = (messageId: string, name: string, value: string) => kept.set(messageId, { ...kept.get(messageId), [name]: value });

/**
 * SQS returns two system attributes fauxqs never stores, and Lambda passes both on in the event:
 * AWSTraceHeader (sent with MessageSystemAttributes) and DeadLetterQueueSourceArn (on a message
 * its queue's RedrivePolicy moved). This keeps them beside fauxqs and adds them to ReceiveMessage
 * responses that ask for them, as SQS does.
 */
export async function keepAwsSystemAttributes(app: FauxqsApp): Promise<void> {
  await trackRedrive();
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || reply.statusCode !== 200) return payload;
    const action = String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
    if (action === 'SendMessage') {
      const trace = (request.body as Request['SendMessage']).MessageSystemAttributes?.AWSTraceHeader?.StringValue;
      if (trace) keep((JSON.parse(payload) as { MessageId: string }).MessageId, 'AWSTraceHeader', trace);
    } else if (action === 'SendMessageBatch') {
      const entries = (request.body as Request['SendMessageBatch']).Entries ?? [];
      if (!entries.some((e) => e.MessageSystemAttributes?.AWSTraceHeader?.StringValue)) return payload;
      for (const ok of (JSON.parse(payload) as { Successful?: Array<{ Id: string; MessageId: string }> }).Successful ?? []) {
        const trace = entries.find((e) => e.Id === ok.Id)?.MessageSystemAttributes?.AWSTraceHeader?.StringValue;
        if (trace) keep(ok.MessageId, 'AWSTraceHeader', trace);
      }
    } else if (action === 'ReceiveMessage') {
      const body = request.body as Request['ReceiveMessage'];
      const names = new Set([...(body.AttributeNames ?? []), ...(body.MessageSystemAttributeNames ?? [])]);
      if (names.size === 0 || kept.size === 0) return payload;
      const out = JSON.parse(payload) as { Messages?: Array<{ MessageId: string; Attributes?: Record<string, string> }> };
      for (const m of out.Messages ?? []) {
        const wanted = Object.entries(kept.get(m.MessageId) ?? {}).filter(([name]) => names.has('All') || names.has(name));
        if (wanted.length > 0) m.Attributes = { ...m.Attributes, ...Object.fromEntries(wanted) };
      }
      return JSON.stringify(out);
    }
    return payload;
  });
}

/** fauxqs moves a message to the dead-letter queue by enqueueing the same object there: note where it came from. */
async function trackRedrive(): Promise<void> {
  if (redriveTracked) return;
  redriveTracked = true;
  const { SqsQueue } = await importFauxqs<{ SqsQueue?: { prototype: FauxqsQueue } }>('dist/sqs/sqsStore.js');
  if (!SqsQueue) throw new Error('fauxqs no longer exports SqsQueue: review local/services/sqsSystemAttributes.ts');
  const enqueue = SqsQueue.prototype.enqueue;
  SqsQueue.prototype.enqueue = function trackedEnqueue(this: FauxqsQueue, message: FauxqsMessage) {
    const source = firstQueue.get(message);
    if (source === undefined) firstQueue.set(message, this.arn);
    else if (source !== this.arn) keep(message.messageId, 'DeadLetterQueueSourceArn', source);
    return enqueue.call(this, message);
  };
}
