import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { decodeRecord } from '#core/record';
import { badInputCorpus, edgeData, validEdges } from '../helpers/badInput.ts';

const NOW = Date.parse('2026-11-22T12:00:00.000Z');
const window = loadStageConfig('local').validation;
const corpus = badInputCorpus(NOW);
const edges = validEdges(NOW);

describe('bad-input corpus', () => {
  it('covers at least 40 kinds of bad input, each named once', () => {
    // Assess
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    expect(new Set(corpus.map((c) => c.kind)).size).toBe(corpus.length);
    expect(new Set(corpus.map((c) => c.reason))).toEqual(new Set(['not_base64', 'too_large', 'not_utf8', 'not_json', 'schema', 'ts_out_of_range']));
  });

  it.each(corpus.map((c) => [c.kind, c] as const))('rejects %s with its reason code', (_kind, input) => {
    // Act
    const decoded = decodeRecord(input.data, NOW, window);

    // Assess
    expect(decoded.ok ? 'accepted' : decoded.error.reason).toBe(input.reason);
  });

  it.each(edges.map((e) => [e.kind, e] as const))('accepts %s unchanged', (_kind, edge) => {
    // Act
    const decoded = decodeRecord(edgeData(edge), NOW, window);

    // Assess
    expect(decoded).toEqual({ ok: true, record: edge.record, tsUs: Date.parse(edge.record.ts) * 1000 });
  });

  it('leaves Object.prototype untouched after decoding __proto__, constructor and prototype keys', () => {
    // Prepare
    const hostile = corpus.filter((c) => /__proto__|constructor|prototype/.test(c.kind));

    // Act
    for (const c of hostile) decodeRecord(c.data, NOW, window);

    // Assess
    expect(hostile).toHaveLength(3);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });
});
