import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The real binary, as a user or CI runs it: `npx tsx cli/ingest.ts ...` in a child process, so
// exit codes, stream separation and the absence of stack traces are what a shell sees.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK_FRAME = /^ {4}at /m;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ingest(...argv: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', ['tsx', 'cli/ingest.ts', ...argv], {
      cwd: ROOT,
      env: { ...process.env, INGEST_DEBUG: '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

// Each spawn costs a second or more (npx, then tsx compiling on the fly).
describe('the ingest binary', { timeout: 60_000 }, () => {
  it('exits 0 validating the examples', async () => {
    const run = await ingest('validate', 'examples/');

    expect(run).toEqual({ code: 0, stdout: '6 specs valid\n', stderr: '' });
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
});
