import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { renameStep, type RenameConfig } from '../../../engine/transforms/rename/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

const rename = (config: RenameConfig) => compile(renameStep, config);

describe('rename', () => {
  it('has the YAML key as its kind', () => {
    expect(renameStep.kind).toBe('rename');
  });

  it('moves a field to its new name', () => {
    expect(run(rename({ uid: 'user_id' }), { uid: 7, x: 1 })).toEqual({ user_id: 7, x: 1 });
  });

  it('moves between dotted paths and creates missing parents', () => {
    expect(run(rename({ 'a.b': 'c.d' }), { a: { b: 1, keep: 2 } })).toEqual({ a: { keep: 2 }, c: { d: 1 } });
  });

  it('is a no-op for a missing source field', () => {
    expect(run(rename({ missing: 'target' }), { target: 'kept' })).toEqual({ target: 'kept' });
  });

  it('moves a source holding null', () => {
    expect(run(rename({ a: 'b' }), { a: null })).toEqual({ b: null });
  });

  it('fails the record with field-collision when the target holds a value, and leaves the record unchanged', () => {
    const record = { a: 1, b: 2, c: 3 };

    const error = recordErrorOf(() => run(rename({ c: 'd', a: 'b' }), record));

    expect(error.code).toBe('field-collision');
    expect(error.message).toContain('`b` already holds a value');
    expect(record).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('counts a target holding null as holding a value', () => {
    expect(recordErrorOf(() => run(rename({ a: 'b' }), { a: 1, b: null })).code).toBe('field-collision');
  });

  it('replaces the target when the entry allows overwriting', () => {
    expect(run(rename({ a: { to: 'b', overwrite: true } }), { a: 1, b: 2 })).toEqual({ b: 1 });
  });

  it('accepts the long form without overwrite as the short form', () => {
    expect(run(rename({ a: { to: 'b' } }), { a: 1 })).toEqual({ b: 1 });
    expect(recordErrorOf(() => run(rename({ a: { to: 'b' } }), { a: 1, b: 2 })).code).toBe('field-collision');
  });

  it('moves onto a target that a nested source vacates', () => {
    expect(run(rename({ a: 'a.b' }), { a: 1 })).toEqual({ a: { b: 1 } });
  });

  it('hoists a field out of an object that holds nothing else', () => {
    expect(run(rename({ 'a.b': 'a' }), { a: { b: 1 } })).toEqual({ a: 1 });
  });

  it('refuses to hoist a field over its siblings', () => {
    expect(recordErrorOf(() => run(rename({ 'a.b': 'a' }), { a: { b: 1, c: 2 } })).code).toBe('field-collision');
  });

  it('does not collide with a target whose source is missing', () => {
    expect(run(rename({ missing: 'b' }), { b: 2 })).toEqual({ b: 2 });
  });

  it('swaps two fields because all renames happen at once', () => {
    expect(run(rename({ a: 'b', b: 'a' }), { a: 1, b: 2 })).toEqual({ a: 2, b: 1 });
  });

  it('mutates and returns the same record object', () => {
    const record = { a: 1 };
    expect(run(rename({ a: 'b' }), record)).toBe(record);
  });

  it('refuses two entries with the same target', () => {
    expect(() => rename({ a: 'c', b: 'c' })).toThrow(/`a` and `b` are both renamed to `c`/);
  });

  it('refuses targets one inside the other', () => {
    expect(() => rename({ x: 'a', y: 'a.b' })).toThrow(/targets `a` and `a.b` overlap/);
  });

  it('refuses sources one inside the other', () => {
    expect(() => rename({ a: 'x', 'a.b': 'y' })).toThrow(/fields `a` and `a.b` overlap/);
  });

  it('fails the record when the target runs through a scalar', () => {
    expect(recordErrorOf(() => run(rename({ a: 'b.c' }), { a: 1, b: 'text' })).code).toBe('transform-error');
  });

  it.each(['{"__proto__": "x"}', '{"a": "__proto__.polluted"}', '{"constructor.prototype": "x"}'])('refuses prototype paths when compiling (%s)', (json) => {
    expect(() => rename(JSON.parse(json) as RenameConfig)).toThrow(/prototype safety/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('rename in ingest validate', () => {
  const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };

  function diagnostics(renameYaml: string): string[] {
    const text = [
      'version: 1',
      'name: demo',
      'sources:',
      '  orders: { type: kinesis, stream: orders }',
      'transforms:',
      `  clean: { inputs: [orders], steps: [{ rename: ${renameYaml} }] }`,
      'sinks:',
      '  archive: { type: s3, inputs: [clean], bucket: acme-archive, key: k/ }',
      '',
    ].join('\n');
    const loaded = loadSpec('spec.yaml', Buffer.from(text));
    if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
    return validateLoadedSpec(loaded.spec, NO_FILES)
      .filter((diagnostic) => diagnostic.severity === 'error')
      .map((diagnostic) => `${diagnostic.code}: ${diagnostic.message}`);
  }

  it('accepts the short and the long form of an entry', () => {
    expect(diagnostics('{ a: b, c: { to: d, overwrite: true }, e: { to: f } }')).toEqual([]);
  });

  it('refuses a long form with an unknown field', () => {
    expect(diagnostics('{ a: { to: b, force: true } }')).not.toEqual([]);
  });

  it.each([
    ['{ a: c, b: c }', '`a` and `b` are both renamed to `c`'],
    ['{ x: a, y: a.b }', 'the targets `a` and `a.b` overlap'],
    ['{ a: x, a.b: y }', 'the fields `a` and `a.b` overlap'],
  ])('refuses entries that cannot run together, as the step would: %s', (yaml, message) => {
    expect(diagnostics(yaml)).toEqual([expect.stringContaining(message)]);
    expect(() => compile(renameStep, parseYaml(yaml) as RenameConfig)).toThrow(message);
  });
});
