import { describe, expect, it } from 'vitest';
import { validateStep } from '../../../engine/transforms/validate/step.ts';
import type { ValidateConfig } from '../../../engine/transforms/validate/step.ts';
import { anEnvironment, compile, recordErrorOf, run } from './factories.ts';

const ORDER_SCHEMA = JSON.stringify({
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer' }, user: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } },
});

function validateWith(config: Partial<ValidateConfig> = {}, schema: string = ORDER_SCHEMA) {
  return compile(validateStep, { schema: 'schemas/order.json', ...config }, anEnvironment({ files: { 'schemas/order.json': schema } }));
}

describe('validate', () => {
  it('has the YAML key as its kind', () => {
    expect(validateStep.kind).toBe('validate');
  });

  it('passes a valid record unchanged', () => {
    const record = { id: 1, user: { email: 'a@example.com' } };
    expect(run(validateWith(), record)).toBe(record);
  });

  it('fails an invalid record with invalid-record by default', () => {
    expect(recordErrorOf(() => run(validateWith(), { id: 'x' })).code).toBe('invalid-record');
  });

  it('lists every schema error with its instance path', () => {
    const error = recordErrorOf(() => run(validateWith(), { id: 1.5, user: { email: 'nope' } }));
    expect(error.message).toBe('record does not match schema `schemas/order.json`: /id must be integer; /user/email must match format "email"');
  });

  it('names a missing required property at the record level', () => {
    expect(recordErrorOf(() => run(validateWith(), {})).message).toContain("(record) must have required property 'id'");
  });

  it('filters an invalid record with on_invalid: drop', () => {
    expect(run(validateWith({ on_invalid: 'drop' }), { id: 'x' })).toBeUndefined();
  });

  it('checks records against a draft-07 schema', () => {
    const schema = JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: ['id'] });
    expect(recordErrorOf(() => run(validateWith({}, schema), {})).code).toBe('invalid-record');
  });

  it('throws when compiling with a schema file that cannot be read', () => {
    expect(() => compile(validateStep, { schema: 'missing.json' })).toThrow(/cannot be read/);
  });

  it('throws when compiling with a schema file that is not JSON', () => {
    expect(() => validateWith({}, '{not json')).toThrow(/is invalid/);
  });
});
