import * as z from 'zod';
import { MAX_STRING_VALUE, NAME_PATTERN } from '../record.ts';

/**
 * A rule set is data, versioned as a whole: every rule event carries the version that produced it,
 * so a firing can always be traced back to the exact premises that were in force.
 */
export const ORDERING_OPS = ['>', '>=', '<', '<='] as const;
export const OPS = ['==', '!=', ...ORDERING_OPS] as const;
export type Op = (typeof OPS)[number];

const PremiseSchema = z
  .strictObject({
    fact: z.string().regex(NAME_PATTERN),
    op: z.enum(OPS),
    value: z.union([z.number().finite(), z.boolean(), z.string().max(MAX_STRING_VALUE)]),
  })
  .superRefine((p, ctx) => {
    // Rejected at load time: `state > "idle"` is almost certainly a typo, not an intent.
    if ((ORDERING_OPS as readonly string[]).includes(p.op) && typeof p.value !== 'number') {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `operator ${p.op} needs a number` });
    }
  });

const RuleSchema = z.strictObject({
  // Rule ids travel in rule events, so they obey the same name rules as sources and facts.
  id: z.string().regex(NAME_PATTERN),
  description: z.string().min(1).max(500),
  when: z.array(PremiseSchema).min(1),
});

export const RuleSetSchema = z
  .strictObject({
    version: z.string().min(1).max(64),
    rules: z.array(RuleSchema).min(1),
    /**
     * Facts the EMA detector leaves alone: cumulative counters (a reset or a shift change is not an
     * anomaly of the process) and anything whose level is meaningless as a series.
     */
    anomalyExclude: z.array(z.string().regex(NAME_PATTERN)).default([]),
  })
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    set.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${rule.id}"` });
      seen.add(rule.id);
    });
  });

export type RuleSet = z.infer<typeof RuleSetSchema>;
export type Rule = RuleSet['rules'][number];
export type Premise = Rule['when'][number];

export interface RuleSetIssue {
  /** Where in the file, e.g. `rules.2.when.0.op`. */
  path: string;
  message: string;
}

export class RuleSetError extends Error {
  override readonly name = 'RuleSetError';
  constructor(readonly issues: RuleSetIssue[]) {
    super(`invalid rule set: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

export function loadRuleSet(json: unknown): RuleSet {
  const parsed = RuleSetSchema.safeParse(json);
  if (!parsed.success) {
    throw new RuleSetError(parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })));
  }
  return parsed.data;
}
