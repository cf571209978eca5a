import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/** The built binary (`dist/cli.js`), as the README's commands and users run it; the test run's global setup builds it first. */
export const INGEST_CLI = join(ROOT, 'dist', 'cli.js');

export interface IngestRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ingest <argv>` in a child process with `cwd` and `env` (the whole environment of the child),
 * collecting its output; `binary` is another copy of `dist/cli.js` to run.
 */
export function runIngest(argv: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; binary?: string }): Promise<IngestRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.binary ?? INGEST_CLI, ...argv], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
