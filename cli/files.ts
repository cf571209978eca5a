import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UsageError } from '../engine/errors.ts';
import { describeReadError } from '../engine/spec/read-spec.ts';

const SPEC_FILE = /\.ya?ml$/;

/**
 * Expands command-line paths into spec files: files as given, directories searched recursively
 * for `*.yaml` and `*.yml` (skipping dot folders and node_modules), in a stable order.
 * Throws `UsageError` for a path that does not exist or cannot be read.
 */
export function collectSpecFiles(paths: readonly string[]): string[] {
  const found: string[] = [];
  for (const path of paths) {
    const stats = statOrThrow(path);
    if (stats.isDirectory()) walk(path, found);
    else found.push(path);
  }
  return [...new Set(found)];
}

function walk(directory: string, found: string[]): void {
  let names: string[];
  try {
    names = readdirSync(directory).sort();
  } catch (error) {
    throw new UsageError(`cannot read directory ${directory}: ${reason(error)}`, { cause: error });
  }
  for (const name of names) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(directory, name);
    const stats = statOrThrow(path);
    if (stats.isDirectory()) walk(path, found);
    else if (SPEC_FILE.test(name)) found.push(path);
  }
}

function statOrThrow(path: string) {
  try {
    return statSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${reason(error)}`, { cause: error });
  }
}

/** Why a file could not be read, in words. */
export const reason = describeReadError;

export function displayPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown.startsWith('..') ? path : shown || path;
}
