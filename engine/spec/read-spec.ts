import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import type { SpecFiles } from '../plugin/checks.ts';
import type { Diagnostic } from './diagnostic.ts';
import { loadSpec } from './load.ts';
import type { LoadedSpec } from './load.ts';
import { filesBeside, validateLoadedSpec } from './validate.ts';

/** A spec file read, loaded and validated. */
export type ReadSpec =
  /** Valid: no error (warnings may be present). */
  | { ok: true; spec: LoadedSpec; diagnostics: Diagnostic[]; files: SpecFiles }
  /** Invalid: `errors` holds at least one error; `diagnostics` every problem found. */
  | { ok: false; spec?: LoadedSpec; diagnostics: Diagnostic[]; errors: Diagnostic[]; files: SpecFiles };

/**
 * Reads a spec file, loads it and validates it (schema and semantic checks, with the files beside
 * it): what every command does before it uses a spec. Diagnostics name the file as `shownPath`.
 * Throws `UsageError` when the file cannot be read; a spec that is wrong is a result, not an
 * exception.
 */
export function readSpec(path: string, shownPath: string = path): ReadSpec {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${describeReadError(error)}`, { cause: error });
  }
  const files = filesBeside(path);
  const loaded = loadSpec(shownPath, bytes);
  if (!loaded.ok) return { ok: false, diagnostics: loaded.diagnostics, errors: loaded.diagnostics.filter((d) => d.severity === 'error'), files };
  const diagnostics = validateLoadedSpec(loaded.spec, files);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  return errors.length > 0 ? { ok: false, spec: loaded.spec, diagnostics, errors, files } : { ok: true, spec: loaded.spec, diagnostics, files };
}

/** Why a file could not be read, in words rather than errno codes. */
export function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (error as Error).message;
}
