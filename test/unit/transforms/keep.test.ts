import { describe, expect, it } from 'vitest';
import { keepStep } from '../../../engine/transforms/keep/step.ts';
import { compile, run } from './factories.ts';

describe('keep', () => {
  it('has the YAML key as its kind', () => {
    expect(keepStep.kind).toBe('keep');
  });

  it('keeps only the listed fields', () => {
    expect(run(compile(keepStep, ['id', 'ts']), { id: 1, ts: 't', noise: true })).toEqual({ id: 1, ts: 't' });
  });

  it('keeps a nested field at its path without its siblings', () => {
    expect(run(compile(keepStep, ['user.id']), { user: { id: 1, name: 'n' }, x: 1 })).toEqual({ user: { id: 1 } });
  });

  it('keeps a whole object when its parent path is listed', () => {
    expect(run(compile(keepStep, ['user', 'user.id']), { user: { id: 1, name: 'n' } })).toEqual({ user: { id: 1, name: 'n' } });
  });

  it('leaves out listed fields that are missing', () => {
    expect(run(compile(keepStep, ['id', 'absent']), { id: 1 })).toEqual({ id: 1 });
  });

  it('keeps a field holding null', () => {
    expect(run(compile(keepStep, ['a']), { a: null, b: 1 })).toEqual({ a: null });
  });

  it('returns an empty record when no listed field is present', () => {
    expect(run(compile(keepStep, ['a']), { b: 1 })).toEqual({});
  });

  it('refuses a constructor path when compiling', () => {
    expect(() => compile(keepStep, ['constructor'])).toThrow(/prototype safety/);
  });
});
