import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian installs the PostgreSQL 15 server binaries, which are not always on PATH. */
export const POSTGRES_15_BIN_DIR = '/usr/lib/postgresql/15/bin';

/**
 * Finds an executable by name: first on PATH, then in `extraDirs`, in order.
 *
 * Returns the absolute path of the first regular, executable file found.
 * Throws an Error whose message names the binary, where it was looked for and
 * `installHint` (what provides it), so a test run never silently skips work.
 */
export function findExecutable(name: string, installHint: string, extraDirs: readonly string[] = []): string {
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...pathDirs, ...extraDirs]) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  const searched = extraDirs.length > 0 ? `PATH or ${extraDirs.join(', ')}` : 'PATH';
  throw new Error(`${name} not found on ${searched}: integration tests need it (${installHint})`);
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
