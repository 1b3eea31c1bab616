import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { readEventsMessage } from '../eventsMessage.ts';
import { QueuePublishError, sendMessages } from '../queue.ts';
import { deleteMessages, receiveAll, receivePage, releaseMessages } from './queueMessages.ts';

export interface EventsRedriveTarget {
  sqs: SQSClient;
  /** The events queue's dead-letter queue (its RedrivePolicy target). */
  deadLetterQueueUrl: string;
  /** The events queue the writer consumes. */
  queueUrl: string;
}

export interface DeadEventListing {
  messageId: string;
  receiveCount: number;
  /** `rule` / `anomaly` for one valid derived event, `events` for an envelope (ADR 0014), `invalid` for a message with nothing the writer can store. */
  kind: 'rule' | 'anomaly' | 'events' | 'invalid';
  /** The valid derived events the message holds. */
  eventIds: string[];
  /** Parts of the message that are not derived events: why the writer failed it. */
  invalid: number;
  moved: boolean;
}

export interface EventsRedriveReport {
  listed: DeadEventListing[];
  moved: number;
  /** Messages the events queue did not accept; they stay in the DLQ. */
  refused: number;
}

function describe(m: Message, moved: boolean): DeadEventListing {
  const read = readEventsMessage(m.Body ?? '');
  const single = read.envelope ? undefined : read.events[0];
  return {
    messageId: m.MessageId ?? '',
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
    kind: single ? single.kind : read.events.length > 0 ? 'events' : 'invalid',
    eventIds: read.events.map((e) => e.id),
    invalid: read.invalid.length,
    moved,
  };
}

/**
 * `npm run redrive -- events`: moves the messages of the events DLQ back to the events queue, ten
 * at a time (receive, send, then delete; the emulators have no StartMessageMoveTask). A message is
 * deleted from the DLQ only after the events queue accepted it, so a failure leaves it where it
 * was. The writer stores events idempotently by id: an event moved twice is written once.
 */
export async function redriveEvents(t: EventsRedriveTarget, o: { dryRun?: boolean } = {}): Promise<EventsRedriveReport> {
  if (o.dryRun) {
    const all = await receiveAll(t.sqs, t.deadLetterQueueUrl);
    await releaseMessages(t.sqs, t.deadLetterQueueUrl, all);
    return { listed: all.map((m) => describe(m, false)), moved: 0, refused: 0 };
  }
  const report: EventsRedriveReport = { listed: [], moved: 0, refused: 0 };
  for (;;) {
    const page = await receivePage(t.sqs, t.deadLetterQueueUrl, { visibilitySeconds: 60 });
    if (page.length === 0) return report;
    const refused = await moveTo(t, page);
    const sent = page.filter((m) => !refused.has(m.MessageId ?? ''));
    await deleteMessages(t.sqs, t.deadLetterQueueUrl, sent);
    await releaseMessages(
      t.sqs,
      t.deadLetterQueueUrl,
      page.filter((m) => refused.has(m.MessageId ?? '')),
    );
    report.listed.push(...page.map((m) => describe(m, !refused.has(m.MessageId ?? ''))));
    report.moved += sent.length;
    report.refused += refused.size;
    // Refused messages are visible again at once; stop rather than spin on a queue that refuses.
    if (refused.size > 0) return report;
  }
}

async function moveTo(t: EventsRedriveTarget, page: Message[]): Promise<Set<string>> {
  try {
    await sendMessages(
      t.sqs,
      t.queueUrl,
      page.map((m) => ({ id: m.MessageId ?? '', body: m.Body ?? '' })),
    );
    return new Set();
  } catch (e) {
    if (!(e instanceof QueuePublishError)) throw e;
    return new Set(e.failedIds);
  }
}
