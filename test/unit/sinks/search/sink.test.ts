import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BulkAnswer, SearchIndex } from '../../../../engine/ports/search-index.ts';
import { BulkServer } from '../../../support/bulk-server.ts';
import { committedItem, dynamoDbMeta, failureOf, inputs, makeInvocation, outcomes, runSink, searchConfig } from './factories.ts';
import type { Input } from './factories.ts';

// The sink against a local `_bulk` server: final index contents, per-item outcomes, retries.

describe('the search sink', () => {
  let server: BulkServer;

  beforeAll(async () => {
    server = await BulkServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    server.reset();
  });

  describe('writing', () => {
    it('indexes every record exactly once under its id', async () => {
      const { tickets } = await runSink(searchConfig(server.url), inputs(25));

      expect(outcomes(tickets)).toEqual(Array(25).fill('written'));
      expect(Object.keys(server.documents('orders')).sort()).toEqual(Array.from({ length: 25 }, (_, index) => `e${index}`).sort());
      expect(server.documents('orders').e7).toEqual({ event_id: 'e7', n: 7 });
      expect(server.operations()).toHaveLength(25);
    });

    it('puts at most max_records operations in one request', async () => {
      await runSink(searchConfig(server.url, { batch: { max_records: 10 } }), inputs(25));

      expect(server.requests.map((request) => request.body.toString().split('\n').length - 1)).toEqual([20, 20, 10]);
    });

    it('keeps every request body within max_bytes', async () => {
      const maxBytes = 1000;

      const { tickets } = await runSink(searchConfig(server.url, { batch: { max_bytes: maxBytes }, concurrency: 3 }), inputs(40, (index) => ({ event_id: `e${index}`, text: 'x'.repeat(100) })));

      expect(outcomes(tickets).every((outcome) => outcome === 'written')).toBe(true);
      expect(server.requests.length).toBeGreaterThan(4);
      expect(Math.max(...server.requests.map((request) => request.body.length))).toBeLessThanOrEqual(maxBytes);
    });

    it('renders the index per record, with routing and an ingest pipeline', async () => {
      await runSink(searchConfig(server.url, { index: 'orders-{{record.day}}', routing: '{{record.tenant}}', pipeline: 'enrich' }), [
        { record: { event_id: 'a', day: '2026.11.27', tenant: 't1' }, meta: dynamoDbMeta(0, 'insert', { event_id: 'a' }) },
      ]);

      expect(server.documents('orders-2026.11.27')).toEqual({ a: { event_id: 'a', day: '2026.11.27', tenant: 't1' } });
      expect(server.operations()[0]!.meta).toEqual({ _index: 'orders-2026.11.27', _id: 'a', routing: 't1', pipeline: 'enrich' });
    });

    it('lets the cluster assign ids when the sink has no id template', async () => {
      const { tickets } = await runSink(searchConfig(server.url, { id: undefined }), inputs(3));

      expect(outcomes(tickets)).toEqual(['written', 'written', 'written']);
      expect(Object.keys(server.documents('orders'))).toHaveLength(3);
    });

    it('merges fields into the document with action update, creating it when missing', async () => {
      await runSink(searchConfig(server.url, { action: 'update' }), [
        { record: { event_id: 'a', name: 'Ada' }, meta: dynamoDbMeta(0, 'insert', {}) },
        { record: { event_id: 'a', plan: 'pro' }, meta: dynamoDbMeta(1, 'modify', {}) },
      ]);

      expect(server.documents('orders')).toEqual({ a: { event_id: 'a', name: 'Ada', plan: 'pro' } });
      expect(server.operations()[0]!.source).toEqual({ doc: { event_id: 'a', name: 'Ada' }, doc_as_upsert: true });
    });
  });

  describe('action auto', () => {
    const changes: Input[] = [
      { record: { event_id: 'u1', name: 'Ada' }, meta: dynamoDbMeta(0, 'insert', { event_id: 'u1' }) },
      { record: { event_id: 'u2', name: 'Grace' }, meta: dynamoDbMeta(1, 'insert', { event_id: 'u2' }) },
      { record: { event_id: 'u1', name: 'Ada L.' }, meta: dynamoDbMeta(2, 'modify', { event_id: 'u1' }) },
      { record: { event_id: 'u2' }, meta: dynamoDbMeta(3, 'remove', { event_id: 'u2' }) },
    ];

    it('applies inserts, modifies and removes of a DynamoDB stream in order', async () => {
      const { tickets } = await runSink(searchConfig(server.url), changes);

      expect(outcomes(tickets)).toEqual(['written', 'written', 'written', 'written']);
      expect(server.documents('orders')).toEqual({ u1: { event_id: 'u1', name: 'Ada L.' } });
      expect(server.operations().map((operation) => operation.action)).toEqual(['index', 'index', 'index', 'delete']);
    });

    it('keeps the order of one document across requests sent concurrently', async () => {
      const { tickets } = await runSink(searchConfig(server.url, { batch: { max_records: 1 }, concurrency: 4 }), changes);

      expect(outcomes(tickets)).toEqual(['written', 'written', 'written', 'written']);
      expect(server.documents('orders')).toEqual({ u1: { event_id: 'u1', name: 'Ada L.' } });
    });

    it('counts deleting a document that is already gone as written', async () => {
      const { tickets } = await runSink(searchConfig(server.url), [{ record: { event_id: 'gone' }, meta: dynamoDbMeta(0, 'remove', { event_id: 'gone' }) }]);

      expect(outcomes(tickets)).toEqual(['written']);
      expect(server.operations()[0]!.action).toBe('delete');
    });
  });

  describe('conflicts', () => {
    it('counts a create of an existing id as already written by default', async () => {
      await runSink(searchConfig(server.url, { action: 'create' }), inputs(1, () => ({ event_id: 'a', first: true })));

      const { tickets } = await runSink(searchConfig(server.url, { action: 'create' }), inputs(1, () => ({ event_id: 'a', first: false })));

      expect(outcomes(tickets)).toEqual(['written']);
      expect(server.documents('orders').a).toEqual({ event_id: 'a', first: true });
    });

    it('dead-letters a create of an existing id with create_conflict: dead_letter', async () => {
      await runSink(searchConfig(server.url, { action: 'create' }), inputs(1, () => ({ event_id: 'a' })));

      const { tickets } = await runSink(searchConfig(server.url, { action: 'create', create_conflict: 'dead_letter' }), inputs(1, () => ({ event_id: 'a' })));

      expect(outcomes(tickets)).toEqual(['sink-rejected']);
      expect(failureOf(tickets[0]!)?.message).toContain('409 version_conflict_engine_exception');
    });
  });

  describe('external versions', () => {
    const versioned = (version: number, name: string, eventName: 'insert' | 'modify' | 'remove' = 'modify'): Input => ({
      record: { event_id: 'u1', name, updated_at: version },
      meta: dynamoDbMeta(version, eventName, { event_id: 'u1' }),
    });

    it('never lets a stale redelivery overwrite a newer document, and counts it as written', async () => {
      const config = searchConfig(server.url, { version: '{{record.updated_at}}' });
      await runSink(config, [versioned(1000, 'new')]);

      const { tickets } = await runSink(config, [versioned(999, 'stale')]);

      expect(outcomes(tickets)).toEqual(['written']);
      expect(server.documents('orders').u1).toEqual({ event_id: 'u1', name: 'new', updated_at: 1000 });
      expect(server.operations()[1]!.meta).toMatchObject({ version: 999, version_type: 'external' });
    });

    it('keeps a deleted document deleted when an older change arrives after the delete', async () => {
      const config = searchConfig(server.url, { version: '{{record.updated_at}}' });
      await runSink(config, [versioned(1, 'v1', 'insert'), versioned(3, 'gone', 'remove')]);

      const { tickets } = await runSink(config, [versioned(2, 'stale')]);

      expect(outcomes(tickets)).toEqual(['written']);
      expect(server.documents('orders')).toEqual({});
    });

    it('writes versions beyond 2^53 as exact digits', async () => {
      await runSink(searchConfig(server.url, { version: '{{record.v}}' }), inputs(1, () => ({ event_id: 'a', v: '9223372036854775807' })));

      expect(server.requests[0]!.body.toString()).toContain('"version":9223372036854775807,"version_type":"external"');
    });
  });

  describe('per-item failures', () => {
    it('dead-letters a document the cluster rejects, with its error type and reason and the document itself', async () => {
      server.itemFault = (operation) => (operation.id === 'e1' ? { status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [n] of type [long]' } : undefined);

      const { tickets } = await runSink(searchConfig(server.url), inputs(3));

      expect(outcomes(tickets)).toEqual(['written', 'sink-rejected', 'written']);
      const failure = failureOf(tickets[1]!)!;
      expect(failure.message).toContain('mapper_parsing_exception: failed to parse field [n] of type [long]');
      expect(failure.record).toEqual({ event_id: 'e1', n: 1 });
    });

    it('retries only the items answered 429, until they are written', async () => {
      let rejections = 0;
      server.itemFault = (operation) => (operation.id === 'e2' && rejections++ < 3 ? { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution' } : undefined);

      const { tickets, writer } = await runSink(searchConfig(server.url), inputs(5));

      expect(outcomes(tickets)).toEqual(Array(5).fill('written'));
      expect(server.requests.map((request) => request.body.toString().split('\n').length - 1)).toEqual([10, 2, 2, 2]);
      expect(writer.statistics).toMatchObject({ written: 5, retried: 3, rejected: 0 });
    });

    it('retries items answered with a 5xx', async () => {
      let failures = 0;
      server.itemFault = (operation) => (operation.id === 'e0' && failures++ < 1 ? { status: 503, type: 'unavailable_shards_exception', reason: 'primary shard is not active' } : undefined);

      const { tickets } = await runSink(searchConfig(server.url), inputs(2));

      expect(outcomes(tickets)).toEqual(['written', 'written']);
    });

    it('reports items still refused when attempts run out as retryable failures', async () => {
      server.itemFault = (operation) => (operation.id === 'e1' ? { status: 429, type: 'es_rejected_execution_exception', reason: 'queue full' } : undefined);

      const { tickets } = await runSink(searchConfig(server.url, { retry: { max_attempts: 3 } }), inputs(2));

      expect(outcomes(tickets)).toEqual(['written', 'sink-error (retryable)']);
      expect(failureOf(tickets[1]!)?.message).toMatch(/after 3 attempts.*429 .*es_rejected_execution_exception: queue full/);
      expect(server.requests).toHaveLength(3);
    });

    it('does not resend a failed write that a later write of the same document in the request superseded', async () => {
      let first = true;
      server.itemFault = (operation) => (operation.source?.name === 'old' && first ? ((first = false), { status: 429, type: 'es_rejected_execution_exception', reason: 'busy' }) : undefined);

      const { tickets } = await runSink(searchConfig(server.url), [
        { record: { event_id: 'a', name: 'old' }, meta: dynamoDbMeta(0, 'insert', {}) },
        { record: { event_id: 'a', name: 'new' }, meta: dynamoDbMeta(1, 'modify', {}) },
      ]);

      expect(outcomes(tickets)).toEqual(['written', 'written']);
      expect(server.documents('orders').a).toEqual({ event_id: 'a', name: 'new' });
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('whole-request failures', () => {
    it.each([
      ['a 503 without items', { kind: 'status', status: 503 } as const],
      ['a 429', { kind: 'status', status: 429 } as const],
      ['a connection reset', { kind: 'reset' } as const],
      ['a body that is not JSON', { kind: 'not-json' } as const],
    ])('retries the request after %s', async (_, fault) => {
      server.requestFaults.push(fault);

      const { tickets } = await runSink(searchConfig(server.url), inputs(3));

      expect(outcomes(tickets)).toEqual(['written', 'written', 'written']);
      expect(server.requests).toHaveLength(2);
      expect(Object.keys(server.documents('orders'))).toHaveLength(3);
    });

    it('retries a request that gets no answer within timeout_seconds', async () => {
      server.requestFaults.push({ kind: 'delay', ms: 1500 });

      const { tickets } = await runSink(searchConfig(server.url, { timeout_seconds: 1 }), inputs(2));

      expect(outcomes(tickets)).toEqual(['written', 'written']);
    });

    it('fails the documents for a retry when the cluster refuses the credentials, without retrying in the invocation', async () => {
      server.requestFaults.push({ kind: 'status', status: 403, body: '{"message":"forbidden"}' });

      const { tickets } = await runSink(searchConfig(server.url), inputs(2));

      expect(outcomes(tickets)).toEqual(['sink-error (retryable)', 'sink-error (retryable)']);
      expect(failureOf(tickets[0]!)?.message).toContain('answered 403: {"message":"forbidden"}');
      expect(server.requests).toHaveLength(1);
    });

    it('reports the documents for a retry, settled before the deadline, when the cluster keeps failing', async () => {
      for (let index = 0; index < 100; index++) server.requestFaults.push({ kind: 'status', status: 503 });
      const invocation = makeInvocation(1500);

      const { tickets } = await runSink(searchConfig(server.url, { retry: { max_attempts: 100, initial_backoff_ms: 200, max_backoff_ms: 200 } }), inputs(2), { random: () => 0.99 }, invocation);

      expect(Date.now()).toBeLessThan(invocation.deadline);
      expect(outcomes(tickets)).toEqual(['sink-error (retryable)', 'sink-error (retryable)']);
      expect(server.requests.length).toBeGreaterThan(2);
      expect(server.requests.length).toBeLessThan(100);
    });
  });

  describe('a request too large for the cluster (413)', () => {
    it('is split and retried until every document is indexed', async () => {
      const small = await BulkServer.start({ maxBodyBytes: 600 });
      try {
        const { tickets } = await runSink(searchConfig(small.url), inputs(20, (index) => ({ event_id: `e${index}`, text: 'y'.repeat(40) })));

        expect(outcomes(tickets)).toEqual(Array(20).fill('written'));
        expect(Object.keys(small.documents('orders'))).toHaveLength(20);
      } finally {
        await small.stop();
      }
    });

    it('dead-letters a single document the cluster finds too large', async () => {
      const small = await BulkServer.start({ maxBodyBytes: 100 });
      try {
        const { tickets } = await runSink(searchConfig(small.url), inputs(2, (index) => ({ event_id: `e${index}`, text: index === 1 ? 'z'.repeat(200) : 'ok' })));

        expect(outcomes(tickets)).toEqual(['written', 'sink-rejected']);
        expect(failureOf(tickets[1]!)?.message).toContain('413');
        expect(failureOf(tickets[1]!)?.record).toEqual({ event_id: 'e1', text: 'z'.repeat(200) });
      } finally {
        await small.stop();
      }
    });
  });

  describe('bad records', () => {
    it.each([
      ['an id that renders empty', { id: '{{record.code}}' }, { event_id: 'a', code: '' }, /id template renders to an empty string/],
      ['an id field that is missing', {}, { other: 1 }, /id template does not render/],
      ['an index rendered in upper case', { index: 'orders-{{record.region}}' }, { event_id: 'a', region: 'EU' }, /upper-case/],
      ['an index rendered with a leading _', { index: '{{record.region}}' }, { event_id: 'a', region: '_eu' }, /starts with "_"/],
      ['an index rendered with a *', { index: 'o-{{record.region}}' }, { event_id: 'a', region: 'e*' }, /contains "\*"/],
      ['an index rendered with a space', { index: 'o-{{record.region}}' }, { event_id: 'a', region: 'e u' }, /contains a space/],
      ['a version that is not an integer', { version: '{{record.v}}' }, { event_id: 'a', v: '1.5' }, /not a non-negative integer/],
      ['a version beyond 2^63 - 1', { version: '{{record.v}}' }, { event_id: 'a', v: '9223372036854775808' }, /exceeds 2\^63 - 1/],
      ['a document larger than max_bytes', { batch: { max_bytes: 200 } }, { event_id: 'a', text: 'x'.repeat(300) }, /more than batch.max_bytes \(200\)/],
    ])('dead-letters %s while the record is being added, sending nothing for it', async (_, overrides, record, message) => {
      const { tickets } = await runSink(searchConfig(server.url, overrides), [{ record, meta: dynamoDbMeta(0, 'insert', {}) }]);

      expect(outcomes(tickets)).toEqual(['sink-rejected']);
      expect(failureOf(tickets[0]!)?.message).toMatch(message);
      expect(failureOf(tickets[0]!)?.record).toBeUndefined();
      expect(server.requests).toHaveLength(0);
    });

    it('dead-letters a delete when the sink has no id template', async () => {
      const { tickets } = await runSink(searchConfig(server.url, { id: undefined }), [{ record: { event_id: 'a' }, meta: dynamoDbMeta(0, 'remove', {}) }]);

      expect(failureOf(tickets[0]!)?.message).toContain('a delete needs a document id');
    });
  });

  describe('staged items', () => {
    it('sends nothing of an item before its commit', async () => {
      const sent: Buffer[] = [];
      const index: SearchIndex = { bulk: async (body): Promise<BulkAnswer> => (sent.push(body), { status: 200, body: JSON.stringify({ errors: false, items: body.toString().trim().split('\n').filter((_, line) => line % 2 === 0).map(() => ({ index: { status: 201 } })) }) }) };
      const { createSearchSink } = await import('../../../../engine/sinks/search/sink.ts');
      const writer = createSearchSink('search', searchConfig(server.url, { batch: { max_records: 1 } }), { index }).open(makeInvocation()) as import('../../../../engine/sinks/search/sink.ts').SearchSinkWriter;
      const ticket = { written: () => {}, failed: () => {} };
      const item = { index: 0, staged: true };

      await writer.add({ record: { event_id: 'a' }, meta: dynamoDbMeta(0, 'insert', {}), ticket, item } as never);
      await writer.add({ record: { event_id: 'b' }, meta: dynamoDbMeta(1, 'insert', {}), ticket, item } as never);
      const before = sent.length;
      await writer.commit(item, committedItem());
      await writer.close();

      expect([before, sent.length]).toEqual([0, 2]);
    });

    it('drops an aborted item unsent', async () => {
      const { createSearchSink } = await import('../../../../engine/sinks/search/sink.ts');
      const writer = createSearchSink('search', searchConfig(server.url)).open(makeInvocation()) as import('../../../../engine/sinks/search/sink.ts').SearchSinkWriter;
      const item = { index: 0, staged: true };

      await writer.add({ record: { event_id: 'a' }, meta: dynamoDbMeta(0, 'insert', {}), ticket: { written: () => {}, failed: () => {} }, item } as never);
      writer.abort(item);
      await writer.close();

      expect(server.requests).toHaveLength(0);
    });
  });
});
