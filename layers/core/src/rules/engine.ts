import type { FactValue } from '../record.ts';
import type { Premise, Rule, RuleSet } from './ruleSet.ts';

export interface RuleEdges {
  /** Rules whose premises all hold now: the state to keep for the next evaluation. */
  active: Set<string>;
  /** Rules that just became true, in rule-set order: each one is a rule event. */
  fired: string[];
  /** Rules that were active and no longer are, in rule-set order, then ids no longer in the rule set. */
  cleared: string[];
}

/**
 * A premise holds only when the fact is known AND has the same type as the rule's value.
 * A missing fact or a type mismatch is false for every operator, `!=` included: a rule must not
 * fire on data it cannot read (`valve_open != true` says nothing when valve_open is a string).
 */
export function premiseHolds(premise: Premise, facts: ReadonlyMap<string, FactValue>): boolean {
  const actual = facts.get(premise.fact);
  if (actual === undefined || typeof actual !== typeof premise.value) return false;
  const expected = premise.value;
  switch (premise.op) {
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
  }
}

export function ruleHolds(rule: Rule, facts: ReadonlyMap<string, FactValue>): boolean {
  return rule.when.every((p) => premiseHolds(p, facts));
}

/**
 * Edge-triggered evaluation of one source's facts: a rule fires when it becomes true, not while it
 * stays true, and may fire again once it has cleared. Pure: the caller keeps `active` as the state.
 */
export function evaluateEdges(ruleSet: RuleSet, facts: ReadonlyMap<string, FactValue>, previouslyActive: ReadonlySet<string>): RuleEdges {
  const active = new Set<string>();
  const fired: string[] = [];
  const cleared: string[] = [];
  for (const rule of ruleSet.rules) {
    if (ruleHolds(rule, facts)) {
      active.add(rule.id);
      if (!previouslyActive.has(rule.id)) fired.push(rule.id);
    } else if (previouslyActive.has(rule.id)) {
      cleared.push(rule.id);
    }
  }
  // A rule dropped from a new rule-set version is no longer active; reporting it lets the caller clear its state.
  const known = new Set(ruleSet.rules.map((r) => r.id));
  cleared.push(...[...previouslyActive].filter((id) => !known.has(id)).sort());
  return { active, fired, cleared };
}
