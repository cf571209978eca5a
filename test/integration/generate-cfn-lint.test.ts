import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTemplate, renderTemplate } from '../../generator/template.ts';
import { findExecutable } from '../support/executables.ts';
import { exampleSpecs, featureSpecs } from '../support/generator-specs.ts';

// cfn-lint is the judge of generated templates: every example's template, and the template of
// every form of each source, sink and runtime feature, lints with no error and no warning. One
// run lints them all, since cfn-lint takes about two seconds to start (and about one more per
// template). YAML only: the JSON rendering is the same document (template.test.ts).
//
// Ignored checks, each with the reason it is wrong for these templates: none.
const IGNORED_CHECKS: string[] = [];

interface Match {
  Filename: string;
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number } };
}

const work = mkdtempSync(join(tmpdir(), 'ingest-cfn-lint-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('generated templates under cfn-lint', () => {
  it('have no errors and no warnings', async () => {
    const cfnLint = findExecutable('cfn-lint', 'pip install cfn-lint');
    const files: string[] = [];
    for (const { name, spec } of [...exampleSpecs(), ...featureSpecs()]) {
      const file = join(work, `${name.replaceAll('/', '_')}.yaml`);
      writeFileSync(file, renderTemplate(generateTemplate(spec), 'yaml'));
      files.push(file);
    }

    const ignore = IGNORED_CHECKS.length > 0 ? ['--ignore-checks', ...IGNORED_CHECKS] : [];
    const { stdout, code } = await promisify(execFile)(cfnLint, ['--format', 'json', ...ignore, '--', ...files], { maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => ({ stdout, code: 0 }),
      (error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', code: error.code ?? -1 }),
    );
    const matches = JSON.parse(stdout || '[]') as Match[];

    expect(matches.map((match) => `${match.Filename.slice(work.length + 1)}:${match.Location.Start.LineNumber} ${match.Rule.Id} ${match.Message}`)).toEqual([]);
    // The exit code is a bitmask: 2 errors, 4 warnings, 8 informational; 1 is a failure to run.
    expect(code & 0b111).toBe(0);
    expect(files.length).toBeGreaterThan(20);
  }, 300_000);
});
