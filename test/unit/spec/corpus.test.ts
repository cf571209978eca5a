import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SPEC_CODES } from '../../../engine/errors.ts';
import type { SpecCode } from '../../../engine/errors.ts';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { loadSpec, MAX_SPEC_BYTES } from '../../../engine/spec/load.ts';
import { filesBeside, validateLoadedSpec } from '../../../engine/spec/validate.ts';

// The invalid-spec corpus: each file holds one mistake and says on its first line which
// diagnostic it must produce, and where: `# expect: <code> <line>:<col>`.

const CORPUS = fileURLToPath(new URL('../../fixtures/invalid/', import.meta.url));
const EXPECT_HEADER = /^# expect: ([a-z0-9-]+) (\d+):(\d+)\r?$/;
/** The codes that are warnings; every other code is an error. */
const WARNING_CODES: ReadonlySet<SpecCode> = new Set(['unused-source']);

interface CorpusCase {
  name: string;
  code: SpecCode;
  line: number;
  column: number;
}

function corpusCases(): CorpusCase[] {
  return readdirSync(CORPUS)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => {
      // latin1 so the header of the deliberately non-UTF-8 file still reads.
      const header = readFileSync(join(CORPUS, name)).toString('latin1').split('\n')[0]!;
      const match = EXPECT_HEADER.exec(header);
      if (!match) throw new Error(`${name}: the first line must be '# expect: <code> <line>:<col>', not ${JSON.stringify(header)}`);
      return { name, code: match[1] as SpecCode, line: Number(match[2]), column: Number(match[3]) };
    });
}

function validateBytes(path: string, bytes: Uint8Array): Diagnostic[] {
  const loaded = loadSpec(path, bytes);
  return loaded.ok ? validateLoadedSpec(loaded.spec, filesBeside(path)) : loaded.diagnostics;
}

const cases = corpusCases();

describe('the invalid-spec corpus', () => {
  it('holds at least 45 specs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it('names only codes that exist', () => {
    const unknown = cases.filter((testCase) => !Object.hasOwn(SPEC_CODES, testCase.code)).map((testCase) => testCase.name);
    expect(unknown).toEqual([]);
  });

  it.each(cases)('$name reports $code at $line:$column', ({ name, code, line, column }) => {
    const path = join(CORPUS, name);

    const diagnostics = validateBytes(path, readFileSync(path));

    const rendered = diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code}: ${d.message}`);
    expect(rendered).toContainEqual(expect.stringMatching(new RegExp(`^${line}:${column} \\w+ ${code}: `)));
    const found = diagnostics.find((d) => d.code === code && d.line === line && d.column === column)!;
    expect(found.file).toBe(path);
    expect(found.message.length).toBeGreaterThan(10);
    if (WARNING_CODES.has(code)) {
      expect(found.severity).toBe('warning');
      expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    } else {
      expect(found.severity).toBe('error');
    }
  });

  it('reports file-too-large at 1:1 for a spec over the size bound (generated, not committed)', () => {
    const padding = `# ${'x'.repeat(78)}\n`.repeat(Math.ceil(MAX_SPEC_BYTES / 80) + 1);
    const bytes = Buffer.from(`version: 1\nname: demo\n${padding}`);

    const diagnostics = validateBytes('large.yaml', bytes);

    expect(diagnostics).toEqual([expect.objectContaining({ code: 'file-too-large', severity: 'error', line: 1, column: 1 })]);
  });

  it('covers every code of SPEC_CODES', () => {
    // `sink-not-runnable` is reported by `ingest package`, not by validate: the class test
    // (validate-implies-runs.test.ts) expects it for every spec whose sinks have no runtime.
    const covered = new Set<string>(['file-too-large', 'sink-not-runnable', ...cases.map((testCase) => testCase.code)]);

    const missing = Object.keys(SPEC_CODES).filter((code) => !covered.has(code));

    expect(missing).toEqual([]);
  });

  it('covers invalid-step both for an unknown step kind and for two kinds in one step', () => {
    const messages = cases
      .filter((testCase) => testCase.code === 'invalid-step')
      .flatMap(({ name }) => validateBytes(join(CORPUS, name), readFileSync(join(CORPUS, name))))
      .map((d) => d.message);

    expect(messages).toContainEqual(expect.stringContaining('unknown step kind'));
    expect(messages).toContainEqual(expect.stringContaining('exactly one kind'));
  });
});
