import { describe, expect, it } from 'vitest';
import { DocumentRejectedError, OperationBuilder, indexNameProblem, versionProblem } from '../../../../engine/sinks/search/request.ts';
import { dynamoDbMeta, kinesisMeta } from './factories.ts';

const now = new Date('2026-11-27T10:30:00.000Z');

function builder(overrides: Partial<ConstructorParameters<typeof OperationBuilder>[0]> = {}) {
  return new OperationBuilder({ index: 'orders', id: '{{record.id}}', action: 'auto', maxBytes: 1024 * 1024, ...overrides });
}

describe('bulk operations', () => {
  it('encode an index as an action line and the record as the source line', () => {
    const operation = builder().build({ id: 'a"1', n: 1 }, kinesisMeta(0), now);

    expect(operation.text).toBe('{"index":{"_index":"orders","_id":"a\\"1"}}\n{"id":"a\\"1","n":1}\n');
    expect(operation.bytes).toBe(Buffer.byteLength(operation.text));
    expect(operation.key).toBe('orders\0a"1');
  });

  it('turn a DynamoDB remove into a delete without a source line under action auto', () => {
    const operation = builder().build({ id: 'u1' }, dynamoDbMeta(0, 'remove', { id: 'u1' }), now);

    expect(operation.text).toBe('{"delete":{"_index":"orders","_id":"u1"}}\n');
    expect(JSON.parse(operation.recordJson)).toEqual({ id: 'u1' });
  });

  it('wrap the record as a partial document with doc_as_upsert for update', () => {
    const operation = builder({ action: 'update' }).build({ id: 'a', n: 2 }, kinesisMeta(0), now);

    expect(operation.text).toBe('{"update":{"_index":"orders","_id":"a"}}\n{"doc":{"id":"a","n":2},"doc_as_upsert":true}\n');
  });

  it('carry routing, an external version without leading zeros, and the pipeline on index and create only', () => {
    const settings = { routing: '{{record.tenant}}', version: '{{record.v}}', pipeline: 'enrich' };
    const record = { id: 'a', tenant: 't', v: '0042' };

    expect(builder({ ...settings, action: 'create' }).build(record, kinesisMeta(0), now).text.split('\n')[0]).toBe(
      '{"create":{"_index":"orders","_id":"a","routing":"t","version":42,"version_type":"external","pipeline":"enrich"}}',
    );
    expect(builder({ ...settings, action: 'delete' }).build(record, kinesisMeta(0), now).text).toBe(
      '{"delete":{"_index":"orders","_id":"a","routing":"t","version":42,"version_type":"external"}}\n',
    );
  });

  it('send a delete without a version when its record cannot render one', () => {
    const operation = builder({ version: '{{record.updated_at}}' }).build({ id: 'u1' }, dynamoDbMeta(0, 'remove', { id: 'u1' }), now);

    expect(operation.text).toBe('{"delete":{"_index":"orders","_id":"u1"}}\n');
    expect(operation.versioned).toBe(false);
  });

  it('reject an index whose record cannot render its version', () => {
    expect(() => builder({ version: '{{record.updated_at}}' }).build({ id: 'u1' }, kinesisMeta(0), now)).toThrow(/version template does not render/);
  });

  it('render a daily index from the record', () => {
    const operation = builder({ index: "clicks-{{date record.ts 'yyyy.MM.dd'}}" }).build({ id: 'a', ts: '2026-11-27T23:59:59Z' }, kinesisMeta(0), now);

    expect(operation.text.startsWith('{"index":{"_index":"clicks-2026.11.27"')).toBe(true);
  });

  it('reject an id longer than 512 bytes', () => {
    expect(() => builder().build({ id: 'é'.repeat(257) }, kinesisMeta(0), now)).toThrow(DocumentRejectedError);
    expect(() => builder().build({ id: 'e'.repeat(512) }, kinesisMeta(0), now)).not.toThrow();
  });

  it('reject a record that cannot be written as JSON', () => {
    expect(() => builder().build({ id: 'a', big: 1n }, kinesisMeta(0), now)).toThrow(/cannot be written as JSON/);
  });
});

describe('index names', () => {
  it.each(['orders', 'logs-2026.11.27', 'a_b', 'événements', 'a'.repeat(255)])('accepts %s', (name) => {
    expect(indexNameProblem(name)).toBeUndefined();
  });

  it.each(['', '.', '..', 'Orders', '_x', '-x', '+x', 'a b', 'a*', 'a?', 'a"b', 'a<b', 'a>b', 'a|b', 'a,b', 'a#b', 'a:b', 'a/b', 'a\\b', 'a'.repeat(256), 'é'.repeat(128)])('refuses %j', (name) => {
    expect(indexNameProblem(name)).toBeDefined();
  });
});

describe('external versions', () => {
  it.each(['0', '1', '1733000000000', '9223372036854775807', '007'])('accepts %s', (text) => {
    expect(versionProblem(text)).toBeUndefined();
  });

  it.each(['', '-1', '1.5', '1e3', 'abc', '9223372036854775808', '49590338271490256608559692538361571095921575989136588898'])('refuses %j', (text) => {
    expect(versionProblem(text)).toBeDefined();
  });
});
