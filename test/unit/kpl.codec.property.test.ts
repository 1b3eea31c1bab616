import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate } from '#core/kpl/aggregate';
import { deaggregate, type Deaggregated } from '#core/kpl/deaggregate';
import type { UserRecord } from '#core/kpl/format';
import { protobufjsDecode, referenceAggregate, referenceDeaggregate, referenceEncode, sign, type RefMessage } from '../helpers/kplReference.ts';

// Kinesis partition keys are 1-256 Unicode characters; any code point, no lone surrogate (not encodable as UTF-8).
const partitionKey = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const explicitHashKey = fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String);
const userRecord: fc.Arbitrary<UserRecord> = fc.record(
  { partitionKey: fc.oneof(partitionKey, fc.constantFrom('FBE_01', 'FBE_02')), explicitHashKey, data: fc.uint8Array({ maxLength: 200 }) },
  { requiredKeys: ['partitionKey', 'data'] },
);
const userRecords = fc.array(userRecord, { minLength: 1, maxLength: 40 });

/** Any message protobufjs can write: tags, several keys, indexes in range. */
const message: fc.Arbitrary<RefMessage> = fc
  .record({
    pks: fc.array(partitionKey, { minLength: 1, maxLength: 5 }),
    ehks: fc.array(explicitHashKey, { maxLength: 3 }),
    records: fc.array(
      fc.record({
        pk: fc.nat(),
        ehk: fc.option(fc.nat(), { nil: undefined }),
        data: fc.uint8Array({ maxLength: 100 }),
        tags: fc.array(fc.record({ key: fc.string({ unit: 'binary' }), value: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }) }), { maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 20 },
    ),
  })
  .map(({ pks, ehks, records }) => ({
    partition_key_table: pks,
    explicit_hash_key_table: ehks,
    records: records.map((r) => ({
      partition_key_index: r.pk % pks.length,
      ...(r.ehk === undefined || ehks.length === 0 ? {} : { explicit_hash_key_index: r.ehk % ehks.length }),
      data: r.data,
      tags: r.tags.map((t) => (t.value === undefined ? { key: t.key } : t)),
    })),
  }));

const normalized = (records: ReadonlyArray<{ partitionKey: string | undefined; explicitHashKey?: string | undefined; data: Uint8Array }>) =>
  records.map((r) => ({ partitionKey: r.partitionKey, explicitHashKey: r.explicitHashKey, data: Buffer.from(r.data).toString('hex') }));
const records = (d: Deaggregated) => (d.kind === 'aggregate' ? normalized(d.records) : d);

describe('the hand-written KPL codec against aws-kinesis-agg', () => {
  it('reads what aws-kinesis-agg aggregates as aws-kinesis-agg and protobufjs read it', () => {
    fc.assert(
      fc.property(userRecords, (input) => {
        // Prepare: aws-kinesis-agg keeps its key table in a plain object, where "__proto__" is no key
        // (its aggregate then names a key it never wrote); tapline's own round trip of it is below
        fc.pre(input.every((r) => r.partitionKey !== '__proto__'));

        // Act
        const data = referenceAggregate(input);
        const mine = deaggregate(data);
        const theirs = referenceDeaggregate(data);
        const codec = protobufjsDecode(data.subarray(4, -16));

        // Assess: partition keys and data as aws-kinesis-agg reads them; explicit hash keys as protobufjs
        // reads them (aws-kinesis-agg's reading of those is wrong, below)
        if (!theirs.ok || !codec.ok || mine.kind !== 'aggregate') throw new Error(`not an aggregate: ${JSON.stringify(mine)}`);
        const withoutEhk = (rs: ReturnType<typeof normalized>) => rs.map(({ explicitHashKey: _, ...r }) => r);
        expect(withoutEhk(normalized(mine.records))).toEqual(withoutEhk(normalized(theirs.records)));
        expect(records(mine)).toEqual(normalized(codec.records));
      }),
      { numRuns: 300 },
    );
  });

  it('reads any message protobufjs writes, tags included, as protobufjs reads it', () => {
    fc.assert(
      fc.property(message, (m) => {
        // Act
        const data = referenceEncode(m);

        // Assess
        const reference = protobufjsDecode(data.subarray(4, -16));
        if (!reference.ok) throw new Error(reference.error);
        expect(records(deaggregate(data))).toEqual(normalized(reference.records));
      }),
      { numRuns: 300 },
    );
  });

  it('writes aggregates aws-kinesis-agg reads back to exactly the records put, in order', () => {
    fc.assert(
      fc.property(userRecords, fc.integer({ min: 200, max: 4_000 }), (input, maxBytes) => {
        // Act
        const packed = aggregate(input, { maxBytes });

        // Assess: every record once, in its aggregate at its position
        const seen: number[] = [];
        for (const a of packed) {
          const theirs = referenceDeaggregate(a.data);
          if (!theirs.ok) throw new Error(theirs.error);
          expect(theirs.records.map((r) => [r.partitionKey, r.data.toString('hex')])).toEqual(
            a.members.map((i) => [input[i]!.partitionKey, Buffer.from(input[i]!.data).toString('hex')]),
          );
          expect(records(deaggregate(a.data))).toEqual(normalized(a.members.map((i) => input[i]!)));
          seen.push(...a.members);
        }
        expect(seen.sort((x, y) => x - y)).toEqual(input.map((_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same bytes as aws-kinesis-agg for the records of one key', () => {
    fc.assert(
      fc.property(partitionKey, fc.option(explicitHashKey, { nil: undefined }), fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 30 }), (pk, ehk, datas) => {
        // Prepare: aws-kinesis-agg keeps its key table in a plain object, where "__proto__" is no key
        fc.pre(pk !== '__proto__');
        const input = datas.map((data) => ({ partitionKey: pk, ...(ehk === undefined ? {} : { explicitHashKey: ehk }), data }));

        // Act
        const packed = aggregate(input, { maxBytes: 1024 * 1024 });

        // Assess
        expect(packed).toHaveLength(1);
        expect(packed[0]!.data.equals(referenceAggregate(input))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('differs from aws-kinesis-agg where aws-kinesis-agg is wrong: a record without an explicit hash key keeps none', () => {
    // Prepare
    const data = referenceAggregate([
      { partitionKey: 'a', explicitHashKey: '42', data: Buffer.from('x') },
      { partitionKey: 'b', data: Buffer.from('y') },
    ]);

    // Act
    const mine = deaggregate(data);
    const theirs = referenceDeaggregate(data);

    // Assess: aws-kinesis-agg reads the absent optional index as 0
    expect(mine.kind === 'aggregate' && mine.records[1]).toEqual({ partitionKey: 'b', data: Buffer.from('y') });
    expect(theirs.ok && theirs.records[1]?.explicitHashKey).toBe('42');
  });

  it('keeps each record\'s key where aws-kinesis-agg\'s aggregator swaps integer-like keys ("7" then "3")', () => {
    // Prepare
    const input = [
      { partitionKey: '7', data: Buffer.from('for 7') },
      { partitionKey: '3', data: Buffer.from('for 3') },
    ];

    // Act: aws-kinesis-agg builds its key table from an object's keys, which JavaScript orders numerically
    const theirs = deaggregate(referenceAggregate(input));
    const mine = aggregate(input).flatMap((a) => {
      const d = deaggregate(a.data);
      return d.kind === 'aggregate' ? d.records : [];
    });

    // Assess
    expect(records(theirs)).toEqual(
      normalized([
        { partitionKey: '3', data: Buffer.from('for 7') },
        { partitionKey: '7', data: Buffer.from('for 3') },
      ]),
    );
    expect(normalized(mine)).toEqual(normalized(input));
  });
});

describe('partition keys that are names of Object.prototype', () => {
  it("round-trip through tapline's aggregator and deaggregator like any other key", () => {
    // Prepare
    const input = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__proto__'].map((partitionKey, i) => ({ partitionKey, data: Buffer.from(`r${i}`) }));

    // Act
    const back = aggregate(input).flatMap((a) => {
      const d = deaggregate(a.data);
      return d.kind === 'aggregate' ? d.records : [];
    });

    // Assess
    expect(normalized(back).sort((a, b) => a.data.localeCompare(b.data))).toEqual(normalized(input));
  });
});

describe('corrupt aggregates', () => {
  const valid = message.map(referenceEncode);

  it('every truncation of an aggregate is plain (under 4 bytes), too short, or a bad digest; never a throw', () => {
    fc.assert(
      fc.property(valid, (data) => {
        for (let length = 0; length < data.length; length++) {
          // Act
          const result = deaggregate(data.subarray(0, length));

          // Assess
          const expected = length < 4 ? 'plain' : length < 20 ? 'too_short' : 'bad_md5';
          expect(result.kind === 'corrupt' ? result.reason : result.kind).toBe(expected);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('every truncation of the protobuf, digest made to match, reads as protobufjs reads it or is refused', () => {
    fc.assert(
      fc.property(valid, (data) => {
        const protobuf = data.subarray(4, -16);
        for (let length = 0; length < protobuf.length; length++) {
          // Act
          const cut = protobuf.subarray(0, length);
          const result = deaggregate(sign(cut));

          // Assess: a cut on a record boundary is a smaller valid aggregate; anything else is refused
          const reference = protobufjsDecode(cut);
          if (result.kind === 'aggregate') {
            expect(reference.ok && normalized(reference.records)).toEqual(normalized(result.records));
          } else {
            expect(result.kind).toBe('corrupt');
            if (reference.ok && reference.records.length > 0) throw new Error(`protobufjs reads what was refused: ${JSON.stringify(result)}`);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('a flipped byte is caught by the digest, or, in the magic bytes, makes the record plain', () => {
    fc.assert(
      fc.property(valid, fc.nat(), fc.integer({ min: 1, max: 255 }), (data, at, mask) => {
        // Prepare
        const damaged = Buffer.from(data);
        const i = at % damaged.length;
        damaged[i]! ^= mask;

        // Act
        const result = deaggregate(damaged);

        // Assess
        expect(result.kind === 'corrupt' ? result.reason : result.kind).toBe(i < 4 ? 'plain' : 'bad_md5');
      }),
      { numRuns: 500 },
    );
  });

  it('flipped protobuf bytes behind a matching digest never throw, and what is accepted is what protobufjs reads', () => {
    fc.assert(
      fc.property(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (data, flips) => {
        // Prepare
        const protobuf = Buffer.from(data.subarray(4, -16));
        for (const [at, mask] of flips) protobuf[at % protobuf.length]! ^= mask;

        // Act
        const result = deaggregate(sign(protobuf));

        // Assess
        if (result.kind === 'aggregate') {
          const reference = protobufjsDecode(protobuf);
          expect(reference.ok && normalized(reference.records)).toEqual(normalized(result.records));
        } else {
          expect(result.kind).toBe('corrupt');
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('any bytes at all, with or without the magic and a matching digest, give a value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, signed) => {
        // Act
        const result = deaggregate(signed ? sign(Buffer.from(bytes)) : Buffer.concat([Buffer.from('f3899ac2', 'hex'), bytes]));

        // Assess
        expect(['aggregate', 'corrupt']).toContain(result.kind);
      }),
      { numRuns: 2_000 },
    );
  });
});
