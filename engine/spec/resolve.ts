import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import schema from '../../ingest.schema.json' with { type: 'json' };
import type { SourceConfig } from '../sources/dispatch.ts';

/** A spec after validation, with defaults applied, sizes in bytes and known parameters substituted. */
export interface ResolvedSpec {
  version: 1;
  name: string;
  description?: string;
  parameters?: Record<string, { type?: string; default?: string | number; secret?: boolean; description?: string }>;
  runtime: { log_level: 'debug' | 'info' | 'warn' | 'error'; [setting: string]: unknown };
  dead_letter?: { bucket: string; prefix?: string };
  sources: Record<string, SourceConfig>;
  transforms?: Record<string, { inputs: string[]; steps: Record<string, unknown>[] }>;
  sinks: Record<string, ResolvedSink>;
  tests?: TestCase[];
}

export interface ResolvedSink {
  type: string;
  inputs: string[];
  where?: string;
  on_error: 'retry' | 'dead_letter';
  [setting: string]: unknown;
}

export interface TestCase {
  name: string;
  given?: Record<string, Record<string, unknown>[] | { event: string }>;
  expect?: Record<string, Record<string, unknown>[]>;
  expect_subset?: boolean;
  expect_dead_letter?: { stage: string; code: string }[];
  expect_filtered?: number;
}

const SIZE = /^(\d+(?:\.\d+)?)(B|KB|KiB|MB|MiB|GB|GiB)$/;
const UNITS: Record<string, number> = { B: 1, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };
const PARAMETER = /\$\{param\.([a-z][a-z0-9_]*)\}/g;

let withDefaults: ValidateFunction | undefined;

/**
 * Resolves a spec that already passed validation. `parameters` are the deployment's values; a
 * parameter with neither a value nor a default stays as its `${param.x}` reference (fine for
 * local runs and tests, where the resource it names is not used). Never mutates `value`.
 */
export function resolveSpec(value: unknown, parameters: Readonly<Record<string, string>> = {}): ResolvedSpec {
  withDefaults ??= new Ajv2020({ useDefaults: true, discriminator: true, allowUnionTypes: true, strict: false }).compile(schema);
  const copy = structuredClone(value) as ResolvedSpec;
  withDefaults(copy);
  const known = parameterValues(copy, parameters);
  // Tests are literal data, and steps resolve their own references (a hash salt) from the step environment.
  const { tests, transforms, ...rest } = copy;
  const resolved = substitute(rest, known, '') as ResolvedSpec;
  if (transforms) resolved.transforms = transforms;
  if (tests) resolved.tests = tests;
  return resolved;
}

/** Declared defaults overlaid with the given values. */
export function parameterValues(spec: Pick<ResolvedSpec, 'parameters'>, given: Readonly<Record<string, string>>): Record<string, string> {
  const values: Record<string, string> = Object.create(null);
  for (const [name, declaration] of Object.entries(spec.parameters ?? {})) {
    if (declaration.default !== undefined) values[name] = String(declaration.default);
  }
  for (const [name, value] of Object.entries(given)) values[name] = value;
  return values;
}

function substitute(value: unknown, parameters: Record<string, string>, key: string): unknown {
  if (typeof value === 'string') {
    const replaced = value.replace(PARAMETER, (reference, name: string) => parameters[name] ?? reference);
    const size = key.endsWith('_bytes') ? SIZE.exec(replaced) : null;
    return size ? Math.floor(Number(size[1]) * UNITS[size[2]!]!) : replaced;
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, parameters, ''));
  if (value && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [field, item] of Object.entries(value)) result[field] = substitute(item, parameters, field);
    return result;
  }
  return value;
}
