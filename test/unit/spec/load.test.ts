import { describe, expect, it } from 'vitest';
import { loadSpec, MAX_SPEC_BYTES } from '../../../engine/spec/load.ts';

const load = (text: string | Uint8Array) => loadSpec('spec.yaml', typeof text === 'string' ? Buffer.from(text) : text);

function firstDiagnostic(text: string | Uint8Array) {
  const result = load(text);
  if (result.ok) throw new Error('expected the spec to be rejected');
  return result.diagnostics[0]!;
}

describe('loadSpec', () => {
  it('returns the value of a mapping document', () => {
    const result = load('version: 1\nname: demo\n');
    expect(result.ok && result.spec.value).toEqual({ version: 1, name: 'demo' });
  });

  it('locates a value and a key by path', () => {
    const result = load('version: 1\nsources:\n  clicks:\n    type: s3\n');
    if (!result.ok) throw new Error('expected a spec');
    expect(result.spec.locate(['sources', 'clicks', 'type'])).toEqual({ line: 4, column: 11 });
    expect(result.spec.locate(['sources', 'clicks'], 'key')).toEqual({ line: 3, column: 3 });
  });

  it('falls back to the deepest existing node for a path that does not exist', () => {
    const result = load('sources:\n  clicks:\n    type: s3\n');
    if (!result.ok) throw new Error('expected a spec');
    expect(result.spec.locate(['sources', 'clicks', 'bucket'])).toEqual({ line: 3, column: 5 });
  });

  it('reports a syntax error at its position', () => {
    expect(firstDiagnostic('name: demo\nsources: [a, b\n')).toMatchObject({ code: 'yaml-syntax', line: 3 });
  });

  it('reports a duplicate key at the second occurrence', () => {
    expect(firstDiagnostic('name: a\nversion: 1\nname: b\n')).toMatchObject({ code: 'duplicate-key', line: 3, column: 1 });
  });

  it('rejects an alias bomb without expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    expect(firstDiagnostic(bomb)).toMatchObject({ code: 'alias-limit', line: 2, column: 8 });
  });

  it('rejects several documents, pointing at the second', () => {
    expect(firstDiagnostic('name: a\n---\nname: b\n')).toMatchObject({ code: 'multiple-documents', line: 2 });
  });

  it.each(['', '\n\n', '# only a comment\n', '---\n'])('rejects an empty file (%j)', (text) => {
    expect(firstDiagnostic(text).code).toBe('empty-file');
  });

  it('rejects bytes that are not UTF-8, at their line and column', () => {
    const bytes = Buffer.concat([Buffer.from('name: demo\ndescription: caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    expect(firstDiagnostic(bytes)).toMatchObject({ code: 'invalid-encoding', line: 2, column: 17 });
  });

  it('accepts a UTF-8 byte order mark and multibyte text', () => {
    const result = load('\uFEFFname: demo\ndescription: café ☕\n');
    expect(result.ok && result.spec.value.description).toBe('café ☕');
  });

  it('rejects files over the size bound before parsing', () => {
    expect(firstDiagnostic(Buffer.alloc(MAX_SPEC_BYTES + 1, 0x20)).code).toBe('file-too-large');
  });

  it.each([['- a\n- b\n'], ['just a string\n'], ['42\n']])('rejects a top level that is not a mapping (%j)', (text) => {
    expect(firstDiagnostic(text)).toMatchObject({ code: 'not-a-mapping', line: 1, column: 1 });
  });

  it('rejects an unknown tag instead of ignoring it', () => {
    expect(firstDiagnostic('name: !!js/function "x"\n').code).toBe('yaml-syntax');
  });
});

describe('loadSpec with YAML merge keys', () => {
  it('copies the keys of the anchored mapping, the merging mapping winning on conflicts', () => {
    const result = load('a: &common { type: kinesis, stream: x }\nb:\n  <<: *common\n  stream: y\n');

    expect(result.ok && result.spec.value.b).toEqual({ type: 'kinesis', stream: 'y' });
  });

  it('merges a list of mappings, earlier ones first', () => {
    const result = load('a: &one { p: 1, q: 1 }\nb: &two { q: 2, r: 2 }\nc: { <<: [*one, *two] }\n');

    expect(result.ok && result.spec.value.c).toEqual({ p: 1, q: 1, r: 2 });
  });

  it('locates a merged value where the anchored mapping writes it', () => {
    const result = load('a: &common\n  type: kinesis\nb:\n  <<: *common\n  stream: y\n');
    if (!result.ok) throw new Error('expected a spec');

    expect(result.spec.locate(['b', 'type'])).toEqual({ line: 2, column: 9 });
    expect(result.spec.locate(['b', 'stream'])).toEqual({ line: 5, column: 11 });
  });

  it('bounds merges like aliases', () => {
    const lines = ['m0: &m0 { k: 1 }'];
    for (let level = 1; level < 12; level++) lines.push(`m${level}: &m${level} [${Array(10).fill(`*m${level - 1}`).join(', ')}]`);

    expect(firstDiagnostic(lines.join('\n') + '\n')).toMatchObject({ code: 'alias-limit' });
  });
});

describe('loadSpec with numbers the spec value cannot hold', () => {
  it.each([
    ['an integer beyond 2^53', 'n: 9007199254740993\n', 'beyond ±2^53'],
    ['a negative integer beyond 2^53', 'n: -18014398509481985\n', 'beyond ±2^53'],
    ['a number that overflows to infinity', 'n: 1e400\n', 'infinity'],
    ['infinity', 'n: .inf\n', 'infinity'],
    ['not a number', 'n: .nan\n', 'not a number'],
  ])('refuses %s at its position', (_name, text, words) => {
    const diagnostic = firstDiagnostic(`version: 1\n${text}`);

    expect(diagnostic).toMatchObject({ code: 'out-of-range', line: 2, column: 4, instancePath: '/n' });
    expect(diagnostic.message).toContain(words);
  });

  it('names the path of a number inside lists and mappings', () => {
    expect(firstDiagnostic('a:\n  - { b: [1, 2, 9007199254740993] }\n')).toMatchObject({ instancePath: '/a/0/b/2', line: 2, column: 17 });
  });

  it('reports the first such number as written, not one in a later mapping', () => {
    expect(load('a:\n  - [1, .inf]\nb: .nan\n')).toMatchObject({ ok: false, diagnostics: [{ instancePath: '/a/0/1', line: 2, column: 9 }] });
  });

  it.each([
    ['the largest exact integer', 'n: 9007199254740991\n'],
    ['an exact power of two beyond 2^53', 'n: 18014398509481984\n'],
    ['a large float written as a float', 'n: 1e300\n'],
    ['a quoted long number', 'n: "12345678901234567890"\n'],
  ])('accepts %s', (_name, text) => {
    expect(load(`version: 1\n${text}`).ok).toBe(true);
  });
});
