import { describe, expect, it } from 'vitest';
import { aggregate } from '#core/kpl/aggregate';
import { deaggregate, type Deaggregated } from '#core/kpl/deaggregate';
import { referenceEncode, sign } from '../helpers/kplReference.ts';

/** Protobuf by hand, for shapes no encoder writes. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const key = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, payload: number[] | Buffer): number[] => [...key(field, 2), ...varint(payload.length), ...payload];
const text = (s: string) => [...Buffer.from(s, 'utf8')];
const record = (pkIndex: number, data: string, extra: number[] = []) => bytesField(3, [...key(1, 0), ...varint(pkIndex), ...bytesField(3, text(data)), ...extra]);
const aggregateOf = (...parts: number[][]) => sign(Buffer.from(parts.flat()));

const users = (d: Deaggregated) => (d.kind === 'aggregate' ? d.records.map((r) => ({ ...r, data: r.data.toString('utf8') })) : d);

describe('deaggregate', () => {
  it('leaves data without the magic bytes alone: a plain record, empty or short ones too', () => {
    // Act + Assess
    expect(deaggregate(Buffer.from('{"v":1}'))).toEqual({ kind: 'plain' });
    expect(deaggregate(Buffer.alloc(0))).toEqual({ kind: 'plain' });
    expect(deaggregate(Buffer.from([0xf3, 0x89, 0x9a]))).toEqual({ kind: 'plain' });
    expect(deaggregate(Buffer.from([0xf3, 0x89, 0x9a, 0xc3, 0, 0]))).toEqual({ kind: 'plain' });
  });

  it('gives back each user record with its own partition key and explicit hash key, in order', () => {
    // Prepare: two keys, and a record with an explicit hash key among records without
    const data = referenceEncode({
      partition_key_table: ['FBE_01', 'FBE_02'],
      explicit_hash_key_table: ['170141183460469231731687303715884105728'],
      records: [
        { partition_key_index: 1, data: Buffer.from('a'), tags: [] },
        { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('b'), tags: [{ key: 'k', value: 'v' }] },
        { partition_key_index: 1, data: Buffer.alloc(0), tags: [{ key: 'only-key' }] },
      ],
    });

    // Act
    const result = deaggregate(data);

    // Assess
    expect(users(result)).toEqual([
      { partitionKey: 'FBE_02', data: 'a' },
      { partitionKey: 'FBE_01', explicitHashKey: '170141183460469231731687303715884105728', data: 'b' },
      { partitionKey: 'FBE_02', data: '' },
    ]);
  });

  it('hands out views into the aggregate, not copies', () => {
    // Prepare
    const [packed] = aggregate([{ partitionKey: 'p', data: Buffer.from('reading') }]);

    // Act
    const result = deaggregate(packed!.data);

    // Assess
    expect(result.kind === 'aggregate' && result.records[0]!.data.buffer).toBe(packed!.data.buffer);
  });

  it('reads fields in any order, skips unknown ones and lets the last of a repeated singular field win', () => {
    // Prepare: the records before the table, an unknown varint, fixed64, fixed32 and bytes field, data given twice
    const data = aggregateOf(
      record(0, 'first', [...bytesField(3, text('second'))]),
      key(9, 0),
      varint(300),
      key(10, 1),
      [1, 2, 3, 4, 5, 6, 7, 8],
      key(11, 5),
      [1, 2, 3, 4],
      bytesField(12, text('ignored')),
      bytesField(1, text('FBE_09')),
    );

    // Act + Assess
    expect(users(deaggregate(data))).toEqual([{ partitionKey: 'FBE_09', data: 'second' }]);
  });

  it.each([
    ['the magic bytes and nothing after them', Buffer.from([0xf3, 0x89, 0x9a, 0xc2]), 'too_short'],
    ['a digest that does not match', Buffer.concat([aggregateOf(bytesField(1, text('p')), record(0, 'x')).subarray(0, -1), Buffer.from([0])]), 'bad_md5'],
    ['a partition key index past the table', aggregateOf(bytesField(1, text('p')), record(1, 'x')), 'bad_key_index'],
    ['an explicit hash key index past the table', aggregateOf(bytesField(1, text('p')), record(0, 'x', [...key(2, 0), 0])), 'bad_key_index'],
    ['a huge index', aggregateOf(bytesField(1, text('p')), record(2 ** 60, 'x')), 'bad_key_index'],
    ['a length past the end', aggregateOf(bytesField(1, text('p')), [...key(3, 2), 50, 8, 0]), 'bad_protobuf'],
    ['a truncated varint', aggregateOf(bytesField(1, text('p')), [...key(3, 2), 2, 8, 0x80]), 'bad_protobuf'],
    ['a varint of 11 bytes', aggregateOf([...key(9, 0), ...Array<number>(10).fill(0xff), 1]), 'bad_protobuf'],
    ['the wrong wire type for the partition key table', aggregateOf([...key(1, 0), 5], record(0, 'x')), 'bad_protobuf'],
    ["the wrong wire type for a record's data", aggregateOf(bytesField(1, text('p')), bytesField(3, [...key(1, 0), 0, ...key(3, 0), 1])), 'bad_protobuf'],
    ['a record without data', aggregateOf(bytesField(1, text('p')), bytesField(3, [...key(1, 0), 0])), 'bad_protobuf'],
    ['a record without a partition key index', aggregateOf(bytesField(1, text('p')), bytesField(3, bytesField(3, text('x')))), 'bad_protobuf'],
    ['a tag without its key', aggregateOf(bytesField(1, text('p')), record(0, 'x', bytesField(4, bytesField(2, text('v'))))), 'bad_protobuf'],
    ['a partition key that is not UTF-8', aggregateOf(bytesField(1, [0xff, 0xfe]), record(0, 'x')), 'bad_protobuf'],
    ['field number 0', aggregateOf([0, 0], bytesField(1, text('p')), record(0, 'x')), 'bad_protobuf'],
    ['a group (wire type 3)', aggregateOf(key(9, 3), bytesField(1, text('p')), record(0, 'x')), 'bad_protobuf'],
    ['a fixed64 cut short', aggregateOf(bytesField(1, text('p')), record(0, 'x'), key(9, 1), [1, 2, 3]), 'bad_protobuf'],
    ['no record at all', aggregateOf(bytesField(1, text('p'))), 'no_records'],
  ])('refuses %s whole, with its reason', (_case, data, reason) => {
    // Act
    const result = deaggregate(data);

    // Assess
    expect(result).toMatchObject({ kind: 'corrupt', reason });
    expect(result.kind === 'corrupt' && result.detail.length).toBeGreaterThan(0);
  });
});
