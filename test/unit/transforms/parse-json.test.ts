import { describe, expect, it } from 'vitest';
import { parseJsonStep } from '../../../engine/transforms/parse_json/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

describe('parse_json', () => {
  it('has the YAML key as its kind', () => {
    expect(parseJsonStep.kind).toBe('parse_json');
  });

  it('replaces JSON text by the value it encodes', () => {
    expect(run(compile(parseJsonStep, 'payload'), { payload: '{"a":[1,2]}' })).toEqual({ payload: { a: [1, 2] } });
  });

  it('parses a nested field', () => {
    expect(run(compile(parseJsonStep, 'body.detail'), { body: { detail: '"x"' } })).toEqual({ body: { detail: 'x' } });
  });

  it('leaves a missing field missing', () => {
    expect(run(compile(parseJsonStep, 'payload'), { id: 1 })).toEqual({ id: 1 });
  });

  it('leaves null alone', () => {
    expect(run(compile(parseJsonStep, 'payload'), { payload: null })).toEqual({ payload: null });
  });

  it('fails the record with invalid-json for malformed text', () => {
    const error = recordErrorOf(() => run(compile(parseJsonStep, 'payload'), { payload: '{"a":' }));
    expect(error.code).toBe('invalid-json');
    expect(error.message).toContain('field `payload` is not valid JSON');
  });

  it('fails the record with transform-error for a value that is not a string', () => {
    const error = recordErrorOf(() => run(compile(parseJsonStep, 'payload'), { payload: { a: 1 } }));
    expect(error.code).toBe('transform-error');
    expect(error.message).toContain('holds an object, not JSON text');
  });

  it('keeps a __proto__ key in the text as a plain field', () => {
    const record = run(compile(parseJsonStep, 'payload'), { payload: '{"__proto__": {"polluted": true}}' }) as { payload: object };
    expect(Object.hasOwn(record.payload, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a __proto__ field path when compiling', () => {
    expect(() => compile(parseJsonStep, '__proto__')).toThrow(/prototype safety/);
  });
});
