import { describe, expect, it } from 'vitest';
import { compileFilterPatterns, FilterPatternError } from '../../../../engine/sources/kinesis/filter-pattern.ts';
import { loadSpec } from '../../../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../../../engine/spec/validate.ts';

// Lambda event filtering uses the EventBridge pattern language; each row is an example of the
// EventBridge reference ("Content filtering in Amazon EventBridge event patterns"), a pattern and a
// subject as Lambda sees a Kinesis record: the `kinesis` member with `data` parsed.

type Row = [string, Record<string, unknown>, Record<string, unknown>, boolean];

const order = { data: { type: 'buy', stock: 'ANYCO', quantity: 1000, price: 10.5, region: 'us-east-1', note: null, tags: ['new', 'vip'], ip: '10.0.0.7', lines: [{ sku: 'A' }, { sku: 'B' }] }, partitionKey: 'customer-1' };

const rows: Row[] = [
  ['equals a string', { data: { type: ['buy'] } }, order, true],
  ['does not equal another string', { data: { type: ['sell'] } }, order, false],
  ['matches any value of a list (or)', { data: { type: ['sell', 'buy'] } }, order, true],
  ['needs every field of a pattern (and)', { data: { type: ['buy'], stock: ['OTHER'] } }, order, false],
  ['compares case-sensitively', { data: { type: ['BUY'] } }, order, false],
  ['equals a number', { data: { quantity: [1000] } }, order, true],
  ['does not coerce a string to a number', { data: { quantity: ['1000'] } }, order, false],
  ['matches null', { data: { note: [null] } }, order, true],
  ['does not match null against a missing field', { data: { missing: [null] } }, order, false],
  ['matches the empty string only against it', { data: { type: [''] } }, order, false],
  ['matches an element of an array', { data: { tags: ['vip'] } }, order, true],
  ['matches a field of objects inside an array', { data: { lines: { sku: ['B'] } } }, order, true],
  ['matches a metadata property', { partitionKey: ['customer-1'] }, order, true],
  ['prefix', { data: { region: [{ prefix: 'us-' }] } }, order, true],
  ['prefix that does not match', { data: { region: [{ prefix: 'eu-' }] } }, order, false],
  ['prefix ignoring case', { data: { region: [{ prefix: { 'equals-ignore-case': 'US-' } }] } }, order, true],
  ['suffix', { data: { region: [{ suffix: '-1' }] } }, order, true],
  ['suffix ignoring case', { data: { stock: [{ suffix: { 'equals-ignore-case': 'co' } }] } }, order, true],
  ['equals-ignore-case', { data: { type: [{ 'equals-ignore-case': 'BUY' }] } }, order, true],
  ['wildcard', { data: { region: [{ wildcard: 'us-*-1' }] } }, order, true],
  ['wildcard that does not match', { data: { region: [{ wildcard: 'eu-*' }] } }, order, false],
  ['wildcard with an escaped star', { data: { type: [{ wildcard: 'b\\*' }] } }, { data: { type: 'b*' } }, true],
  ['anything-but a value', { data: { type: [{ 'anything-but': 'sell' }] } }, order, true],
  ['anything-but the value itself', { data: { type: [{ 'anything-but': 'buy' }] } }, order, false],
  ['anything-but a list', { data: { type: [{ 'anything-but': ['sell', 'buy'] }] } }, order, false],
  ['anything-but a number', { data: { quantity: [{ 'anything-but': [5, 10] }] } }, order, true],
  ['anything-but a prefix', { data: { region: [{ 'anything-but': { prefix: 'us-' } }] } }, order, false],
  ['anything-but a suffix', { data: { region: [{ 'anything-but': { suffix: '-2' } }] } }, order, true],
  ['anything-but ignoring case', { data: { type: [{ 'anything-but': { 'equals-ignore-case': ['BUY'] } }] } }, order, false],
  ['anything-but on a missing field', { data: { missing: [{ 'anything-but': 'x' }] } }, order, false],
  ['numeric range', { data: { quantity: [{ numeric: ['>', 0, '<=', 1000] }] } }, order, true],
  ['numeric range that excludes', { data: { quantity: [{ numeric: ['>', 1000] }] } }, order, false],
  ['numeric equality with a decimal', { data: { price: [{ numeric: ['=', 10.5] }] } }, order, true],
  ['numeric on a string never matches', { data: { type: [{ numeric: ['>', 0] }] } }, order, false],
  ['exists true', { data: { stock: [{ exists: true }] } }, order, true],
  ['exists true on a missing field', { data: { missing: [{ exists: true }] } }, order, false],
  ['exists false on a missing field', { data: { missing: [{ exists: false }] } }, order, true],
  ['exists false on a present field', { data: { stock: [{ exists: false }] } }, order, false],
  ['exists only on leaves, not on an object', { data: { lines: [{ exists: true }] } }, { data: { lines: { sku: 'A' } } }, false],
  ['cidr', { data: { ip: [{ cidr: '10.0.0.0/24' }] } }, order, true],
  ['cidr outside the block', { data: { ip: [{ cidr: '10.0.1.0/24' }] } }, order, false],
  ['cidr for IPv6', { data: { ip: [{ cidr: '2001:db8::/32' }] } }, { data: { ip: '2001:db8::1' } }, true],
  ['$or of patterns', { data: { $or: [{ type: ['sell'] }, { quantity: [{ numeric: ['>=', 1000] }] }] } }, order, true],
  ['$or of patterns none of which matches', { data: { $or: [{ type: ['sell'] }, { stock: ['OTHER'] }] } }, order, false],
  ['a nested pattern against a missing object', { data: { customer: { id: ['1'] } } }, order, false],
];

describe('compileFilterPatterns', () => {
  it.each(rows)('%s', (_, pattern, subject, expected) => {
    expect(compileFilterPatterns([pattern]).matches(subject, true)).toBe(expected);
  });

  it('matches when any of several patterns matches', () => {
    const patterns = compileFilterPatterns([{ data: { type: ['sell'] } }, { data: { type: ['buy'] } }]);

    expect(patterns.matches(order, true)).toBe(true);
  });

  it('never matches a pattern on data when the data is not JSON, as Lambda drops such records', () => {
    const patterns = compileFilterPatterns([{ data: { type: [{ exists: false }] } }]);

    expect(patterns.matches({ data: undefined, partitionKey: 'k' }, false)).toBe(false);
  });

  it('still applies a pattern on metadata only when the data is not JSON', () => {
    const patterns = compileFilterPatterns([{ partitionKey: ['k'] }]);

    expect(patterns.matches({ data: undefined, partitionKey: 'k' }, false)).toBe(true);
  });

  it('walks data nested thousands of levels deep without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let level = 0; level < 20_000; level++) deep = [deep];
    const patterns = compileFilterPatterns([{ data: { v: ['x'] } }]);

    expect(patterns.matches({ data: { v: deep } }, true)).toBe(true);
  });

  const invalid: [string, unknown, (string | number)[]][] = [
    ['a pattern that is not an object', 'purchase', [0]],
    ['an empty pattern', {}, [0]],
    ['a leaf that is not a list', { data: { type: 'buy' } }, [0, 'data', 'type']],
    ['an empty list of matchers', { data: { type: [] } }, [0, 'data', 'type']],
    ['an unknown matcher', { data: { type: [{ regex: 'b.*' }] } }, [0, 'data', 'type', 0, 'regex']],
    ['a matcher with two operators', { data: { type: [{ prefix: 'a', suffix: 'b' }] } }, [0, 'data', 'type', 0]],
    ['a prefix that is a number', { data: { type: [{ prefix: 1 }] } }, [0, 'data', 'type', 0, 'prefix']],
    ['a numeric range with an unknown operator', { data: { n: [{ numeric: ['>>', 1] }] } }, [0, 'data', 'n', 0, 'numeric']],
    ['a numeric bound that is a string', { data: { n: [{ numeric: ['>', '1'] }] } }, [0, 'data', 'n', 0, 'numeric']],
    ['exists that is not a boolean', { data: { n: [{ exists: 'yes' }] } }, [0, 'data', 'n', 0, 'exists']],
    ['a cidr that is not a block', { data: { ip: [{ cidr: '10.0.0.300/8' }] } }, [0, 'data', 'ip', 0, 'cidr']],
    ['$or with one pattern', { data: { $or: [{ a: ['1'] }] } }, [0, 'data', '$or']],
  ];

  it.each(invalid)('refuses %s, naming where it is', (_, pattern, path) => {
    let thrown: unknown;
    try {
      compileFilterPatterns([pattern]);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(FilterPatternError);
    expect((thrown as FilterPatternError).path).toEqual(path);
  });
});

describe('ingest validate on Kinesis filter patterns', () => {
  function diagnostics(filter: string) {
    const yaml = `version: 1
name: filtered
sources:
  orders:
    type: kinesis
    stream: orders
    filter: ${filter}
sinks:
  archive: { type: s3, inputs: [orders], bucket: archive, key: "all/" }
`;
    const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
    if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
    return validateLoadedSpec(loaded.spec, { exists: () => false, read: () => undefined }).map(({ line, column, code, message }) => ({ line, column, code, message }));
  }

  it('accepts patterns Lambda accepts', () => {
    expect(diagnostics('[{ data: { type: [buy, { prefix: "re" }], amount: [{ numeric: [">", 0] }] } }]')).toEqual([]);
  });

  it('reports a pattern Lambda would refuse at the matcher, with invalid-filter-pattern', () => {
    expect(diagnostics('[{ data: { type: [{ regex: "b.*" }] } }]')).toEqual([
      { line: 7, column: 40, code: 'invalid-filter-pattern', message: expect.stringContaining('unknown matcher `regex`') },
    ]);
  });

  it('reports a field that is not a list of matchers', () => {
    expect(diagnostics('[{ data: { type: buy } }]')).toMatchObject([{ line: 7, code: 'invalid-filter-pattern' }]);
  });
});
