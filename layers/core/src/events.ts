import { createHash } from 'node:crypto';
import * as z from 'zod';
import { instantMicros, NAME_PATTERN, storableText, storedTs } from './record.ts';

/**
 * Derived events (rule firings, anomalies) travel ingest -> events queue -> writer.
 * Their ids are deterministic (hash of what caused them), so a redelivered batch or a
 * re-published outbox entry produces the same id and the writer's insert stays idempotent.
 * What the schema accepts the database stores: the event time becomes the text PostgreSQL reads
 * as the same instant (storedTs), and free text cannot hold NUL or a lone surrogate.
 */
const base = {
  v: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  ts: z.iso.datetime({ offset: true }).transform((ts) => storedTs(ts, instantMicros(ts))),
  source: z.string().regex(NAME_PATTERN),
};

export const RuleEventSchema = z.strictObject({
  ...base,
  kind: z.literal('rule'),
  ruleId: z.string().regex(NAME_PATTERN),
  rulesVersion: storableText(64).pipe(z.string().min(1)),
});

export const AnomalyEventSchema = z.strictObject({
  ...base,
  kind: z.literal('anomaly'),
  fact: z.string().regex(NAME_PATTERN),
  value: z.number().finite(),
  ema: z.number().finite(),
  sigma: z.number().finite().nonnegative(),
});

export const DerivedEventSchema = z.discriminatedUnion('kind', [RuleEventSchema, AnomalyEventSchema]);

export type RuleEvent = z.infer<typeof RuleEventSchema>;
export type AnomalyEvent = z.infer<typeof AnomalyEventSchema>;
export type DerivedEvent = z.infer<typeof DerivedEventSchema>;

export function derivedEventId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
