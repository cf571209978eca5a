import { vi } from 'vitest';
import { main } from '../../cli/main.ts';

/** What one in-process `ingest` command did. */
export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ingest <argv>` through `main()` in this process, capturing what it writes to stdout and stderr. */
export async function ingestInProcess(...argv: string[]): Promise<InProcessRun> {
  let stdout = '';
  let stderr = '';
  const capture = (append: (text: string) => void) => (chunk: string | Uint8Array) => {
    append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture((text) => (stdout += text)) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture((text) => (stderr += text)) as typeof process.stderr.write);
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
