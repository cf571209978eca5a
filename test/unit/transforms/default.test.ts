import { describe, expect, it } from 'vitest';
import { defaultStep } from '../../../engine/transforms/default/step.ts';
import { compile, run } from './factories.ts';

describe('default', () => {
  it('has the YAML key as its kind', () => {
    expect(defaultStep.kind).toBe('default');
  });

  it('sets a missing field', () => {
    expect(run(compile(defaultStep, { country: 'unknown' }), { id: 1 })).toEqual({ id: 1, country: 'unknown' });
  });

  it('replaces null', () => {
    expect(run(compile(defaultStep, { country: 'unknown' }), { country: null })).toEqual({ country: 'unknown' });
  });

  it.each(['', 0, false, 'fr'])('keeps the present value %j', (value) => {
    expect(run(compile(defaultStep, { country: 'unknown' }), { country: value })).toEqual({ country: value });
  });

  it('creates missing parents of a dotted field', () => {
    expect(run(compile(defaultStep, { 'geo.country': 'unknown' }), {})).toEqual({ geo: { country: 'unknown' } });
  });

  it('gives each record its own copy of a list literal', () => {
    const step = compile(defaultStep, { tags: [] as string[] });
    const first = run(step, {}) as { tags: string[] };
    first.tags.push('changed');
    expect(run(step, {})).toEqual({ tags: [] });
  });

  it('refuses a __proto__ path when compiling', () => {
    expect(() => compile(defaultStep, JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>)).toThrow(/prototype safety/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
