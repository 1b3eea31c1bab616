import type { StateChanges } from '#core/derive';

/**
 * What the state tables end up holding is the newest change per key: derive emits one per row
 * (10,000 in a raw batch) and the upserts keep the newest. This keeps only those (ties: the later).
 */
export function newestChangePerKey(changes: StateChanges): StateChanges {
  const newest = <T extends { ts: string }>(items: readonly T[], key: (t: T) => string): T[] => {
    const byKey = new Map<string, T>();
    for (const item of items) {
      const k = key(item);
      const seen = byKey.get(k);
      if (!seen || Date.parse(item.ts) >= Date.parse(seen.ts)) byKey.set(k, item);
    }
    return [...byKey.values()];
  };
  return {
    facts: newest(changes.facts, (f) => `${f.source}\u0000${f.fact}`),
    rules: newest(changes.rules, (r) => `${r.source}\u0000${r.ruleId}`),
    ema: newest(changes.ema, (e) => `${e.source}\u0000${e.fact}`),
  };
}
