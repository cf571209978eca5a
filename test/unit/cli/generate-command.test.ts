import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateCommand } from '../../../cli/commands/generate.ts';
import { UsageError } from '../../../engine/errors.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/s3-events-to-redshift.yaml', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ingest-generate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(positionals: string[], options: { outDir?: string; format?: string } = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = generateCommand(positionals, { format: 'yaml', ...options } as Parameters<typeof generateCommand>[1], (text) => stdout.push(text), (text) => stderr.push(text));
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

describe('ingest generate', () => {
  it('prints only the template on stdout and the notes on stderr', () => {
    const { code, stdout, stderr } = run([EXAMPLE]);

    expect(code).toBe(0);
    expect((parse(stdout, { version: '1.1' }) as { AWSTemplateFormatVersion: string }).AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(stderr).toMatch(/^note: source events: the stack does not create bucket acme-app-events/m);
  });

  it('prints JSON with --format json', () => {
    const { stdout } = run([EXAMPLE], { format: 'json' });

    expect(Object.keys(JSON.parse(stdout) as object)).toContain('Resources');
  });

  it('writes <pipeline name>.template.<format> under -o and names the file on stdout', () => {
    const outDir = join(work, 'templates');

    const { code, stdout } = run([EXAMPLE], { outDir });

    expect(code).toBe(0);
    expect(stdout).toMatch(/^wrote .*app-events-warehouse\.template\.yaml: \d+ resources$/);
    expect(readFileSync(join(outDir, 'app-events-warehouse.template.yaml'), 'utf8')).toBe(`${run([EXAMPLE]).stdout}\n`);
  });

  it('exits 1 with the diagnostics on stderr and nothing on stdout for an invalid spec', () => {
    const spec = join(work, 'bad.yaml');
    writeFileSync(spec, 'version: 1\nname: bad\nsources: {}\nsinks: {}\n');

    const { code, stdout, stderr } = run([spec]);

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/bad\.yaml:\d+:\d+: error /);
  });

  it('exits 1, naming both, when two parameters would meet in one logical id', () => {
    const spec = join(work, 'collide.yaml');
    writeFileSync(spec, 'version: 1\nname: collide\nparameters:\n  level_1: { type: string }\n  level1: { type: string }\nsources:\n  in: { type: kinesis, stream: orders, format: json }\nsinks:\n  out: { type: s3, inputs: [in], bucket: acme-out, key: x/ }\n');

    const { code, stdout, stderr } = run([spec]);

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/collide\.yaml:\d+:\d+: error logical-id-collision: parameter `level1` and parameter `level_1` both become Level1/);
  });

  it('exits 1, naming both, when a parameter takes the logical id of a resource of the template', () => {
    const spec = join(work, 'reserved.yaml');
    writeFileSync(spec, 'version: 1\nname: reserved\nparameters:\n  function: { type: string }\nsources:\n  in: { type: kinesis, stream: orders, format: json }\nsinks:\n  out: { type: s3, inputs: [in], bucket: acme-out, key: x/ }\n');

    const { code, stdout, stderr } = run([spec]);

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('reserved.yaml: error: the template and parameter function both need the logical id Function');
  });

  it.each([
    ['no spec', [], {}],
    ['two specs', [EXAMPLE, EXAMPLE], {}],
    ['an unknown format', [EXAMPLE], { format: 'toml' }],
    ['a missing file', [join(work, 'missing.yaml')], {}],
  ] as const)('is a usage error with %s', (_, positionals, options) => {
    expect(() => run([...positionals], options)).toThrow(UsageError);
  });
});
