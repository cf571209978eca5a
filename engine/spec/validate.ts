import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import type { SpecFiles } from '../plugin/checks.ts';
import { checkSpec } from './check.ts';
import type { Diagnostic } from './diagnostic.ts';
import validateSpec from './generated/validate-spec.js';
import type { LoadedSpec } from './load.ts';
import { loadSpec } from './load.ts';
import { schemaDiagnostics } from './schema-errors.ts';
import { isSizeField, sizeInBytes } from './size.ts';

/** The spec schema validator, compiled at build time (scripts/compile-spec-validators.mjs): no process compiles the schema. */
export function specSchemaValidator(): ValidateFunction {
  return validateSpec;
}

/**
 * Validates a loaded spec: its JSON Schema first, then, when the shape is right, the semantic checks.
 * The schema sees every size already in bytes (see `sizesAsBytes`), so each size field's
 * `minimum` and `maximum` bound `0.9B` and `99999GiB` exactly as they bound integers.
 */
export function validateLoadedSpec(spec: LoadedSpec, files: SpecFiles): Diagnostic[] {
  const validator = specSchemaValidator();
  if (!validator(sizesAsBytes(spec.value, ''))) return schemaDiagnostics(spec, validator.errors ?? []);
  return checkSpec(spec, files).sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * A copy of the spec value with every size string (a `*_bytes` field such as `64MiB`) replaced
 * by its number of bytes, as `resolveSpec` will compute it. Strings that are not sizes are left
 * for the schema's pattern to report; test records are data and are left alone.
 */
function sizesAsBytes(value: unknown, field: string | number): unknown {
  if (typeof value === 'string') return isSizeField(field) ? (sizeInBytes(value) ?? value) : value;
  if (Array.isArray(value)) return value.map((item, index) => sizesAsBytes(item, index));
  if (value && typeof value === 'object') {
    const copy: Record<string, unknown> = Object.create(null);
    for (const [key, item] of Object.entries(value)) copy[key] = field === '' && key === 'tests' ? item : sizesAsBytes(item, key);
    return copy;
  }
  return value;
}

/** Reads, loads and validates one spec file. I/O failures reading the spec itself are thrown (the caller maps them to exit 2). */
export function validateSpecFile(path: string, displayPath = path): Diagnostic[] {
  const bytes = readFileSync(path);
  const loaded = loadSpec(displayPath, bytes);
  if (!loaded.ok) return loaded.diagnostics;
  return validateLoadedSpec(loaded.spec, filesBeside(path));
}

/** File access relative to a spec's folder. */
export function filesBeside(specPath: string): SpecFiles {
  const base = dirname(resolve(specPath));
  return {
    exists: (path) => existsSync(resolve(base, path)),
    read: (path) => {
      try {
        return readFileSync(resolve(base, path), 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}
