import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import schema from '../../ingest.schema.json' with { type: 'json' };
import type { SpecFiles } from '../plugin/checks.ts';
import { checkSpec } from './check.ts';
import type { Diagnostic } from './diagnostic.ts';
import type { LoadedSpec } from './load.ts';
import { loadSpec } from './load.ts';
import { schemaDiagnostics } from './schema-errors.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let compiled: ValidateFunction | undefined;

/** The spec schema validator, compiled once per process on first use. */
export function specSchemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    compiled = ajv.compile(schema);
  }
  return compiled;
}

/** Validates a loaded spec: its JSON Schema first, then, when the shape is right, the semantic checks. */
export function validateLoadedSpec(spec: LoadedSpec, files: SpecFiles): Diagnostic[] {
  const validator = specSchemaValidator();
  if (!validator(spec.value)) return schemaDiagnostics(spec, validator.errors ?? []);
  return checkSpec(spec, files).sort((a, b) => a.line - b.line || a.column - b.column);
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
