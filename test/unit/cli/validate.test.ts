import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SPEC_BYTES } from '../../../engine/spec/load.ts';
import { ingestInProcess as ingest } from '../../support/ingest-in-process.ts';

// `ingest validate` (and the command line around it) run in-process: main() resolves to the exit
// code and writes through process.stdout / process.stderr, which the tests capture.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** A path as the CLI displays it: relative to the working directory. */
const shown = (path: string) => relative(process.cwd(), resolve(ROOT, path));
const EXAMPLES = shown('examples');
const CORPUS = shown('test/fixtures/invalid');
const DIAGNOSTIC_LINE = /^(.+):(\d+):(\d+): (error|warning) ([a-z0-9-]+): \S.*$/;


function corpusCases(): { file: string; code: string; line: number; column: number }[] {
  return readdirSync(resolve(ROOT, CORPUS))
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const header = readFileSync(resolve(ROOT, CORPUS, name)).toString('latin1').split('\n')[0]!;
      const [, code, line, column] = /^# expect: (\S+) (\d+):(\d+)/.exec(header)!;
      return { file: join(CORPUS, name), code: code!, line: Number(line), column: Number(column) };
    });
}

const temporary: string[] = [];
function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'ingest-validate-'));
  temporary.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of temporary) rmSync(directory, { recursive: true, force: true });
});

describe('ingest validate', () => {
  it('exits 0 on the examples and says how many specs are valid', async () => {
    const run = await ingest('validate', EXAMPLES);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.split('\n').at(-2)).toBe('6 specs valid');
  });

  describe('notes what deploying a valid spec needs beyond the stack', () => {
    const s3Spec = (create: boolean) => `version: 1
name: drops
dead_letter: { bucket: errors }
sources:
  drops: { type: s3, bucket: acme-drops, format: jsonl${create ? ', create: true' : ''} }
sinks:
  archive: { type: s3, inputs: [drops], bucket: acme-archive, key: out/ }
`;

    it('says that an existing bucket an S3 source reads needs EventBridge notifications, without failing even --strict', async () => {
      const file = join(temporaryDirectory(), 'drops.yaml');
      writeFileSync(file, s3Spec(false));

      const run = await ingest('validate', '--strict', file);

      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^.*drops\.yaml: note: source drops: the stack does not create bucket acme-drops, so turn on its EventBridge notifications .*\n1 spec valid\n$/);
    });

    it('says nothing of a bucket the stack creates', async () => {
      const file = join(temporaryDirectory(), 'drops.yaml');
      writeFileSync(file, s3Spec(true));

      const run = await ingest('validate', file);

      expect(run).toEqual({ code: 0, stdout: '1 spec valid\n', stderr: '' });
    });

    it('gives the note as a GitHub notice', async () => {
      const file = join(temporaryDirectory(), 'drops.yaml');
      writeFileSync(file, s3Spec(false));

      const run = await ingest('validate', '--format', 'github', file);

      expect(run.stdout).toMatch(/^::notice file=.*drops\.yaml::source drops: the stack does not create bucket acme-drops/);
    });
  });

  it('exits 1 on the invalid corpus, printing path:line:col: severity CODE: message lines', async () => {
    const run = await ingest('validate', CORPUS);

    const lines = run.stdout.trimEnd().split('\n');
    const summary = lines.pop();
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(lines.filter((line) => !DIAGNOSTIC_LINE.test(line))).toEqual([]);
    expect(summary).toMatch(/^\d+ specs of \d+ invalid: \d+ errors, 1 warning$/);
  });

  it('prints the expected diagnostic of every corpus file at its position', async () => {
    const run = await ingest('validate', CORPUS);

    for (const { file, code, line, column } of corpusCases()) {
      expect(run.stdout).toMatch(new RegExp(`^${escape(file)}:${line}:${column}: (error|warning) ${code}: `, 'm'));
    }
  });

  it.each(corpusCases())('never prints a stack trace for $file', async ({ file }) => {
    const run = await ingest('validate', file);

    expect(run.code).toBe(file.endsWith('unused-source.yaml') ? 0 : 1);
    expect(run.stderr).toBe('');
    expect(run.stdout).not.toMatch(/^ {4}at /m);
  });

  it('reports a spec over the size bound as file-too-large at 1:1', async () => {
    const path = join(temporaryDirectory(), 'huge.yaml');
    writeFileSync(path, `version: 1\nname: huge\ndescription: "${'x'.repeat(MAX_SPEC_BYTES)}"\n`);

    const run = await ingest('validate', path);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`${path}:1:1: error file-too-large: `);
  });

  describe('warnings', () => {
    const unusedSource = join(CORPUS, 'unused-source.yaml');

    it('exit 0 by default, and are printed as warnings', async () => {
      const run = await ingest('validate', unusedSource);

      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${unusedSource}:6:3: warning unused-source: source \`refunds\` feeds no transform or sink; its records would be read and discarded\n1 spec valid, 1 warning\n`);
    });

    it('exit 1 with --strict', async () => {
      const run = await ingest('validate', '--strict', unusedSource);

      expect(run.code).toBe(1);
      expect(run.stdout).toContain('1 spec of 1 invalid: 0 errors, 1 warning');
    });
  });

  describe('--format json', () => {
    it('prints only a JSON list of diagnostics with their fields', async () => {
      const run = await ingest('validate', '--format', 'json', CORPUS);

      const diagnostics = JSON.parse(run.stdout) as Record<string, unknown>[];
      expect(run.code).toBe(1);
      expect(diagnostics.length).toBeGreaterThanOrEqual(corpusCases().length);
      for (const diagnostic of diagnostics) {
        expect(Object.keys(diagnostic).sort()).toEqual(['code', 'column', 'file', 'instancePath', 'line', 'message', 'severity']);
        expect(diagnostic).toMatchObject({ file: expect.any(String), line: expect.any(Number), column: expect.any(Number), severity: expect.stringMatching(/^(error|warning)$/), code: expect.any(String), message: expect.any(String), instancePath: expect.any(String) });
      }
    });

    it('gives the JSON Pointer of the offending value', async () => {
      const run = await ingest('validate', '--format', 'json', join(CORPUS, 'out-of-range-kinesis-batch.yaml'));

      expect(JSON.parse(run.stdout)).toEqual([
        expect.objectContaining({ code: 'out-of-range', line: 8, column: 27, instancePath: '/sources/orders/batch/max_records' }),
      ]);
    });

    it('prints an empty list for valid specs', async () => {
      const run = await ingest('validate', '--format=json', EXAMPLES);

      expect(run).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
    });
  });

  describe('--format github', () => {
    it('prints workflow commands that annotate the file, line and column', async () => {
      const run = await ingest('validate', '--format', 'github', CORPUS);

      const annotations = run.stdout.split('\n').filter((line) => line.startsWith('::'));
      expect(run.code).toBe(1);
      expect(annotations.length).toBeGreaterThanOrEqual(corpusCases().length);
      expect(annotations.filter((line) => !/^::(error|warning) file=[^,]+,line=\d+,col=\d+,title=[a-z0-9-]+::/.test(line))).toEqual([]);
      expect(annotations).toContainEqual(`::error file=${join(CORPUS, 'duplicate-id.yaml')},line=7,col=3,title=duplicate-id::id \`orders\` is already used in sources; sources, transforms and sinks share one namespace`);
      expect(annotations).toContainEqual(expect.stringMatching(/^::warning file=.*unused-source\.yaml,line=6,col=3,title=unused-source::/));
    });
  });

  describe('directories', () => {
    it('are searched recursively for .yaml and .yml files, skipping dot folders and node_modules', async () => {
      const directory = temporaryDirectory();
      const valid = readFileSync(resolve(ROOT, 'examples/kinesis-archive.yaml'));
      const invalid = readFileSync(resolve(ROOT, CORPUS, 'duplicate-id.yaml'));
      mkdirSync(join(directory, 'team/orders'), { recursive: true });
      mkdirSync(join(directory, '.git'));
      mkdirSync(join(directory, 'node_modules/some-package'), { recursive: true });
      writeFileSync(join(directory, 'top.yaml'), valid);
      writeFileSync(join(directory, 'team/orders/nested.yml'), valid);
      writeFileSync(join(directory, 'team/notes.txt'), 'not a spec: {');
      writeFileSync(join(directory, '.git/ignored.yaml'), invalid);
      writeFileSync(join(directory, 'node_modules/some-package/ignored.yaml'), invalid);

      const run = await ingest('validate', directory);

      expect(run).toEqual({ code: 0, stdout: '2 specs valid\n', stderr: '' });
    });

    it('with no spec files in them are a usage error', async () => {
      const run = await ingest('validate', temporaryDirectory());

      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^ingest validate: no \*\.yaml or \*\.yml files found in .+\n$/);
    });
  });

  describe('usage errors exit 2 with one line on stderr', () => {
    it.each([
      [['validate', 'does-not-exist.yaml'], 'ingest validate: cannot read does-not-exist.yaml: no such file or directory\n'],
      [['validate', '--format', 'xml', 'examples'], 'ingest validate: unknown --format xml; expected one of: text, json, github\n'],
      [['validate'], 'ingest validate: validate needs at least one file or directory\n'],
    ])('%j', async (argv, message) => {
      const run = await ingest(...argv);

      expect(run).toEqual({ code: 2, stdout: '', stderr: message });
    });

    it('for an unknown option', async () => {
      const run = await ingest('validate', '--bogus', EXAMPLES);

      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^ingest validate: Unknown option '--bogus'.*\n$/);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    });

    it('for an unknown command, with the list of commands', async () => {
      const run = await ingest('valdiate', EXAMPLES);

      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^ingest: unknown command 'valdiate'\n/);
      expect(run.stderr).toContain('  validate ');
    });
  });
});

describe('ingest schema', () => {
  it('prints the committed JSON Schema of specs', async () => {
    const run = await ingest('schema');

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(JSON.parse(readFileSync(resolve(ROOT, 'ingest.schema.json'), 'utf8')));
  });

  it('takes no arguments', async () => {
    expect((await ingest('schema', 'extra')).code).toBe(2);
  });
});

describe('--help', () => {
  it('lists the commands and exits 0', async () => {
    const run = await ingest('--help');

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: ingest <command> \[options\]/);
  });

  it('exists for every listed command and exits 0', async () => {
    const commands = [...(await ingest('--help')).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((match) => match[1]!);
    expect(commands).toContain('validate');

    for (const command of commands) {
      for (const flag of ['--help', '-h']) {
        const run = await ingest(command, flag);
        expect(run, `${command} ${flag}`).toMatchObject({ code: 0, stderr: '' });
        expect(run.stdout).toMatch(new RegExp(`^ingest ${command}\\b`));
      }
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('ingest validate refuses what would fail at start-up or for every record', () => {
  it('reports each reported case of the hardening issue at its line, with exit 1', async () => {
    const directory = temporaryDirectory();
    const path = join(directory, 'spec.yaml');
    writeFileSync(
      path,
      [
        'version: 1',
        'name: demo',
        'dead_letter: { bucket: acme-errors, prefix: "{{record.x}}/" }',
        'sources:',
        '  orders: { type: kinesis, stream: orders, max_record_bytes: 0.5B }',
        'transforms:',
        '  clean: { inputs: [orders], steps: [{ rename: { a: __proto__ } }] }',
        'sinks:',
        '  a: { type: s3, inputs: [clean], bucket: acme-a, key: "orders/{{recrod.ts}}/", batch: { max_records: 1e308 } }',
        '  b: { type: s3, inputs: [clean], bucket: acme-b, key: orders, batch: { max_bytes: 99999999999999999999GiB } }',
        '  c: { type: s3, inputs: [clean], bucket: acme-c, key: "/x/{{constructor.constructor}}/", batch: { max_bytes: 0.9B } }',
        '',
      ].join('\n'),
    );

    const run = await ingest('validate', path);

    expect(run.code).toBe(1);
    const found = run.stdout.split('\n').flatMap((line) => {
      const match = DIAGNOSTIC_LINE.exec(line);
      return match ? [`${match[2]} ${match[5]}`] : [];
    });
    expect(found).toEqual([
      '5 out-of-range',
      '7 reserved-field-name',
      '9 out-of-range',
      '10 out-of-range',
      '11 out-of-range',
    ]);
  });

  it('reports template roots, key prefixes and the dead-letter prefix once the shape is right', async () => {
    const directory = temporaryDirectory();
    const path = join(directory, 'spec.yaml');
    writeFileSync(
      path,
      [
        'version: 1',
        'name: demo',
        'dead_letter: { bucket: acme-errors, prefix: "{{record.x}}/" }',
        'sources:',
        '  orders: { type: kinesis, stream: orders }',
        'sinks:',
        '  a: { type: s3, inputs: [orders], bucket: acme-a, key: "orders/{{recrod.ts}}/" }',
        '  b: { type: s3, inputs: [orders], bucket: acme-b, key: orders }',
        '  c: { type: s3, inputs: [orders], bucket: acme-c, key: "/x/{{constructor.constructor}}/" }',
        '',
      ].join('\n'),
    );

    const run = await ingest('validate', path);

    expect(run.code).toBe(1);
    const found = run.stdout.split('\n').flatMap((line) => {
      const match = DIAGNOSTIC_LINE.exec(line);
      return match ? [`${match[2]} ${match[5]}`] : [];
    });
    expect(found).toEqual(['3 unknown-variable', '7 unknown-variable', '8 invalid-key-prefix', '9 reserved-field-name', '9 invalid-key-prefix']);
  });
});
