import type { SourceConfig } from '../sources/dispatch.ts';

/**
 * A spec after validation, with defaults applied and sizes in bytes (`resolveSpec`, at build time),
 * and deployment parameters substituted (`substituteParameters`, at cold start).
 */
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
  expect_dead_letter?: { stage: string; code?: string; component?: string }[];
  expect_filtered?: number;
}

const PARAMETER = /\$\{param\.([a-z][a-z0-9_]*)\}/g;

/** Declared defaults overlaid with the given values. */
export function parameterValues(spec: Pick<ResolvedSpec, 'parameters'>, given: Readonly<Record<string, string>>): Record<string, string> {
  const values: Record<string, string> = Object.create(null);
  for (const [name, declaration] of Object.entries(spec.parameters ?? {})) {
    if (declaration.default !== undefined) values[name] = String(declaration.default);
  }
  for (const [name, value] of Object.entries(given)) values[name] = value;
  return values;
}

/**
 * Replaces `${param.x}` references with the deployment's values (declared defaults fill the
 * rest). A parameter with neither stays a reference: fine for local runs and tests, where the
 * resource it names is not used. Tests are literal data, and steps resolve their own references
 * (a hash salt) from the step environment, so neither is touched. Never mutates `spec`.
 */
export function substituteParameters(spec: ResolvedSpec, given: Readonly<Record<string, string>>): ResolvedSpec {
  const values = parameterValues(spec, given);
  const { tests, transforms, ...rest } = spec;
  const resolved = substitute(rest, values) as ResolvedSpec;
  if (transforms) resolved.transforms = transforms;
  if (tests) resolved.tests = tests;
  return resolved;
}

function substitute(value: unknown, parameters: Record<string, string>): unknown {
  if (typeof value === 'string') return value.replace(PARAMETER, (reference, name: string) => parameters[name] ?? reference);
  if (Array.isArray(value)) return value.map((item) => substitute(item, parameters));
  if (value && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [field, item] of Object.entries(value)) result[field] = substitute(item, parameters);
    return result;
  }
  return value;
}
