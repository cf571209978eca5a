import { describe, expect, it } from 'vitest';
import { dropStep } from '../../../engine/transforms/drop/step.ts';
import { compile, run } from './factories.ts';

describe('drop', () => {
  it('has the YAML key as its kind', () => {
    expect(dropStep.kind).toBe('drop');
  });

  it('removes the listed fields', () => {
    expect(run(compile(dropStep, ['debug', 'trace']), { id: 1, debug: true, trace: 'x' })).toEqual({ id: 1 });
  });

  it('removes a nested field by its dotted path', () => {
    expect(run(compile(dropStep, ['user.password']), { user: { name: 'a', password: 'p' } })).toEqual({ user: { name: 'a' } });
  });

  it('ignores missing fields', () => {
    expect(run(compile(dropStep, ['absent', 'a.b.c']), { a: 1 })).toEqual({ a: 1 });
  });

  it('does not remove inherited members', () => {
    run(compile(dropStep, ['toString']), {});
    expect(typeof Object.prototype.toString).toBe('function');
  });

  it('refuses a __proto__ path when compiling', () => {
    expect(() => compile(dropStep, ['__proto__.toString'])).toThrow(/prototype safety/);
  });
});
