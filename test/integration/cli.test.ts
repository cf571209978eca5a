import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runIngest } from '../support/ingest-binary.ts';
import type { IngestRun as Run } from '../support/ingest-binary.ts';

// The real binary, as a user or CI runs it: `node dist/cli.js ...` in a child process, so
// exit codes, stream separation and the absence of stack traces are what a shell sees.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK_FRAME = /^ {4}at /m;

function ingest(...argv: string[]): Promise<Run> {
  return ingestIn(ROOT, ...argv);
}

/** Runs the binary with `cwd` as working directory, where `run --local` keeps `.ingest/`. */
function ingestIn(cwd: string, ...argv: string[]): Promise<Run> {
  return runIngest(argv, { cwd, env: { ...process.env, INGEST_DEBUG: '', NO_COLOR: '1', INGEST_DEAD_LETTER_BUCKET: '' } });
}

describe('the ingest binary', { timeout: 60_000 }, () => {
  it('exits 0 validating the examples', async () => {
    const run = await ingest('validate', 'examples/');

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^(examples\/[\w-]+\.yaml: note: source \w+: the stack does not create bucket .*\n)*6 specs valid\n$/);
  });

  it("prints the same with yaml's own debugging switches set, which the build turns off (ADR 0065)", async () => {
    const plain = await ingest('validate', 'examples/');
    const switched = await runIngest(['validate', 'examples/'], { cwd: ROOT, env: { ...process.env, INGEST_DEBUG: '', NO_COLOR: '1', LOG_TOKENS: '1', LOG_STREAM: '1' } });

    expect(switched).toEqual(plain);
  });

  it('exits 1 on the invalid corpus with one located line per problem and no stack trace', async () => {
    const run = await ingest('validate', 'test/fixtures/invalid');

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).not.toMatch(STACK_FRAME);
    expect(run.stdout).toMatch(/^test\/fixtures\/invalid\/duplicate-id\.yaml:7:3: error duplicate-id: /m);
    expect(run.stdout).toMatch(/^test\/fixtures\/invalid\/invalid-encoding\.yaml:4:28: error invalid-encoding: /m);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\d+ specs of \d+ invalid: \d+ errors, 1 warning$/);
  });

  it('annotates GitHub Actions with --format github', async () => {
    const run = await ingest('validate', '--format', 'github', 'test/fixtures/invalid/unknown-field.yaml');

    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')[0]).toMatch(/^::error file=test\/fixtures\/invalid\/unknown-field\.yaml,line=7,col=5,title=unknown-field::unknown field `bucket_name`/);
  });

  it('fails --strict on a spec with only a warning', async () => {
    const [lenient, strict] = await Promise.all([
      ingest('validate', 'test/fixtures/invalid/unused-source.yaml'),
      ingest('validate', '--strict', 'test/fixtures/invalid/unused-source.yaml'),
    ]);

    expect([lenient.code, strict.code]).toEqual([0, 1]);
  });

  it('exits 2 with a one-line error for a missing file', async () => {
    const run = await ingest('validate', 'does-not-exist.yaml');

    expect(run).toEqual({ code: 2, stdout: '', stderr: 'ingest validate: cannot read does-not-exist.yaml: no such file or directory\n' });
  });

  it('exits 2 with a one-line error for an unknown option', async () => {
    const run = await ingest('validate', '--colour', 'examples/');

    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^ingest validate: Unknown option '--colour'/)]);
  });

  it('prints the schema as JSON equal to ingest.schema.json', async () => {
    const run = await ingest('schema');

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(JSON.parse(readFileSync(join(ROOT, 'ingest.schema.json'), 'utf8')));
  });

  it('prints its version with --version', async () => {
    const run = await ingest('--version');

    expect(run).toEqual({ code: 0, stdout: `ingest ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`, stderr: '' });
  });

  it('packages a spec whose sink loads Redshift, now that every sink type has a runtime', async () => {
    const out = scratch();

    const run = await ingest('package', 'examples/s3-events-to-redshift.yaml', '--out', out);

    expect(run.code).toBe(0);
    expect(readdirSync(out)).toContain('spec.json');
  });
});

const scratchDirectories: string[] = [];
function scratch(): string {
  const directory = mkdtempSync(join(tmpdir(), 'ingest-cli-'));
  scratchDirectories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of scratchDirectories) rmSync(directory, { recursive: true, force: true });
});

const CHECKOUT_LOGS = ['run', join(ROOT, 'examples', 'cloudwatch-logs.yaml'), '--local', '--event', join(ROOT, 'examples', 'events', 'checkout-logs-kinesis.json')];

/** Files under `directory`, recursively, as paths relative to it. */
function filesUnder(directory: string): string[] {
  return (readdirSync(directory, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(directory.length + 1))
    .sort();
}

describe('ingest run parameters', { timeout: 60_000 }, () => {
  it('runs a shipped example with the salt its hash step needs given by --param', async () => {
    const run = await ingestIn(scratch(), ...CHECKOUT_LOGS, '--param', 'pii_salt=abc');

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^records: 4 in, 2 written, 2 filtered, 0 dead-lettered, 0 failed$/m);
  });

  it('exits 2 for a misspelled --param, naming the declared parameters', async () => {
    const run = await ingestIn(scratch(), ...CHECKOUT_LOGS, '--param', 'pii_salt=abc', '--param', 'pii_slat=abc');

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('ingest run: pii_slat is not a declared parameter (given as --param pii_slat=<value>) (declared parameters: pii_salt (no default), search_secret (no default))\n');
  });

  it('exits 2 when the run needs a parameter that has neither a value nor a default, saying how to give it', async () => {
    const run = await ingestIn(scratch(), ...CHECKOUT_LOGS);

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('parameter pii_salt has no value and no default; supply it with --param pii_salt=<value>');
  });

  it('writes to the bucket a parameter names, never to a literal ${param...} path', async () => {
    const directory = scratch();
    writeFileSync(join(directory, 'spec.yaml'), [
      'version: 1',
      'name: params',
      'parameters: { out_bucket: { type: string } }',
      'sources: { orders: { type: kinesis, stream: orders } }',
      'sinks: { out: { type: s3, inputs: [orders], bucket: "${param.out_bucket}", key: "orders/", compression: none } }',
    ].join('\n'));
    writeFileSync(join(directory, 'orders.jsonl'), '{"id":1}\n');

    const missing = await ingestIn(directory, 'run', 'spec.yaml', '--local', '--input', 'orders=orders.jsonl');
    const given = await ingestIn(directory, 'run', 'spec.yaml', '--local', '--input', 'orders=orders.jsonl', '--param', 'out_bucket=archive');

    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toContain('parameter out_bucket has no value and no default; supply it with --param out_bucket=<value>');
    expect(given.code).toBe(0);
    expect(filesUnder(join(directory, '.ingest', 's3'))).toEqual([expect.stringMatching(/^archive\/orders\/.+\.jsonl$/)]);
  });
});

describe('dead letters of a spec without dead_letter', { timeout: 60_000 }, () => {
  const spec = [
    'version: 1',
    'name: no-dead-letter',
    'sources: { orders: { type: kinesis, stream: orders } }',
    'sinks: { out: { type: s3, inputs: [orders], bucket: archive, key: "orders/", compression: none } }',
  ].join('\n');

  it('go to .ingest/s3/dead-letters/ in a local run, the stand-in for the bucket the stack creates', async () => {
    const directory = scratch();
    writeFileSync(join(directory, 'spec.yaml'), spec);
    writeFileSync(join(directory, 'orders.jsonl'), '{"id":1}\nnot json\n');

    const run = await ingestIn(directory, 'run', 'spec.yaml', '--local', '--input', 'orders=orders.jsonl');

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^records: 2 in, 1 written, 0 filtered, 1 dead-lettered, 0 failed$/m);
    const letters = filesUnder(join(directory, '.ingest', 's3', 'dead-letters'));
    expect(letters).toHaveLength(1);
    expect(readFileSync(join(directory, '.ingest', 's3', 'dead-letters', letters[0]!), 'utf8')).toContain('"code":"invalid-json"');
  });

  it('need INGEST_DEAD_LETTER_BUCKET in a run against AWS: exit 2 without it', async () => {
    const directory = scratch();
    writeFileSync(join(directory, 'spec.yaml'), spec);
    writeFileSync(join(directory, 'event.json'), readFileSync(join(ROOT, 'examples', 'events', 'checkout-logs-kinesis.json')));

    const run = await ingestIn(directory, 'run', 'spec.yaml', '--event', 'event.json');

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('the spec names no dead_letter bucket, so its dead letters go to the bucket the stack creates: set INGEST_DEAD_LETTER_BUCKET');
  });
});
