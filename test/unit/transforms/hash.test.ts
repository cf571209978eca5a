import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashStep } from '../../../engine/transforms/hash/step.ts';
import type { HashConfig } from '../../../engine/transforms/hash/step.ts';
import { decodeDynamoDbRecord } from '../../../engine/sources/dynamodb/decode.ts';
import { anEnvironment, compile, run } from './factories.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');

function hashWith(config: Partial<HashConfig> & { fields: string[] }, parameters: Record<string, string> = { pii_salt: 's3cret' }) {
  return compile(hashStep, { salt: '${param.pii_salt}', algorithm: 'sha256', ...config }, anEnvironment({ parameters }));
}

describe('hash', () => {
  it('has the YAML key as its kind', () => {
    expect(hashStep.kind).toBe('hash');
  });

  it('replaces a string by its hex HMAC-SHA256 keyed by the salt', () => {
    expect(run(hashWith({ fields: ['email'] }), { email: 'a@example.com' })).toEqual({ email: hmac('s3cret', 'a@example.com') });
  });

  it('hashes a number in its shortest decimal form', () => {
    expect(run(hashWith({ fields: ['phone'] }), { phone: 1.5 })).toEqual({ phone: hmac('s3cret', '1.5') });
  });

  it('hashes an object as compact JSON with sorted keys', () => {
    expect(run(hashWith({ fields: ['address'] }), { address: { zip: '1', city: 'X' } })).toEqual({ address: hmac('s3cret', '{"city":"X","zip":"1"}') });
  });

  it('gives a DynamoDB set the same digest whatever its order', () => {
    const step = hashWith({ fields: ['tags'] });
    expect(run(step, { tags: new Set(['b', 'a']) })).toEqual(run(step, { tags: new Set(['a', 'b']) }));
  });

  it('hashes a nested field by its dotted path', () => {
    expect(run(hashWith({ fields: ['user.email'] }), { user: { email: 'e', id: 1 } })).toEqual({ user: { email: hmac('s3cret', 'e'), id: 1 } });
  });

  it('leaves missing fields and null alone', () => {
    expect(run(hashWith({ fields: ['email', 'phone'] }), { phone: null })).toEqual({ phone: null });
  });

  it('gives the same digest for the same value across records', () => {
    const step = hashWith({ fields: ['email'] });
    expect(run(step, { email: 'x' })).toEqual(run(step, { email: 'x' }));
  });

  it('uses a salt without references as written', () => {
    expect(run(hashWith({ fields: ['v'], salt: 'pepper' }), { v: 'x' })).toEqual({ v: hmac('pepper', 'x') });
  });

  it('keys the HMAC with the UTF-8 bytes of any salt, empty or not ASCII', () => {
    for (const salt of ['', 'pfeffer-ä-€-😀']) {
      expect(run(hashWith({ fields: ['v'], salt }), { v: 'x' })).toEqual({ v: hmac(salt, 'x') });
    }
  });

  it('uses plain SHA-256 when no salt is configured', () => {
    expect(run(compile(hashStep, { fields: ['v'], algorithm: 'sha256' }), { v: 'x' })).toEqual({ v: sha256('x') });
  });

  it('throws when compiling with a salt parameter that has no value', () => {
    expect(() => hashWith({ fields: ['v'] }, {})).toThrow(/parameter `pii_salt`, which has no value/);
  });

  it('throws when compiling with an algorithm other than sha256', () => {
    expect(() => hashWith({ fields: ['v'], algorithm: 'md5' as 'sha256' })).toThrow(/unsupported algorithm "md5"/);
  });

  it('refuses a prototype field path when compiling', () => {
    expect(() => hashWith({ fields: ['constructor.name'] })).toThrow(/prototype safety/);
  });
});

describe('hash of DynamoDB sets', () => {
  /** The record a MODIFY stream record whose new image holds `tags` decodes to. */
  function decodedTags(tags: Record<string, unknown>): Record<string, unknown> {
    const record = {
      eventName: 'MODIFY', eventSource: 'aws:dynamodb', eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000',
      dynamodb: { Keys: { id: { S: 'u1' } }, NewImage: { id: { S: 'u1' }, tags }, SequenceNumber: '1', StreamViewType: 'NEW_IMAGE' },
    };
    const [item] = decodeDynamoDbRecord(record as never, 'users', { events: ['insert', 'modify', 'remove'], image: 'new' });
    if (item?.outcome !== 'record') throw new Error(`expected a record, got ${JSON.stringify(item)}`);
    return item.value;
  }

  /** Every order of `elements` (they are few). */
  function permutations<T>(elements: T[]): T[][] {
    if (elements.length <= 1) return [elements];
    return elements.flatMap((element, index) => permutations([...elements.slice(0, index), ...elements.slice(index + 1)]).map((rest) => [element, ...rest]));
  }

  it.each([
    ['SS', ['b', 'a', 'Zed', 'é']],
    ['NS', ['10', '-1', '2.5', '12345678901234567890']],
    ['BS', ['QSoBAA==', 'AAEqQQ==', 'AA==']],
  ])('gives a %s set one digest whatever order the stream lists its elements in', (type, elements) => {
    const step = hashWith({ fields: ['tags'] });

    const digests = new Set(permutations(elements).map((order) => (run(step, decodedTags({ [type]: order })) as Record<string, unknown>).tags));

    expect(digests.size).toBe(1);
  });

  it('still tells a list from a reordered list: order is part of a list', () => {
    const step = hashWith({ fields: ['tags'] });

    const [first, second] = [[{ S: 'a' }, { S: 'b' }], [{ S: 'b' }, { S: 'a' }]].map((list) => (run(step, decodedTags({ L: list })) as Record<string, unknown>).tags);

    expect(first).not.toBe(second);
  });
});
