import breweryRulesJson from './brewery.rules.json' with { type: 'json' };
import { loadRuleSet, type RuleSet } from './ruleSet.ts';

/** The rule set deployed with the functions. Validated at cold start: a bad edit fails loudly, not silently. */
export const breweryRuleSet: RuleSet = loadRuleSet(breweryRulesJson);
