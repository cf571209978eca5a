/**
 * The spec as the engine reads it. Its types are generated from the schema
 * (engine/spec/spec-types.ts, `Resolved*`): every field with a default is present, sizes are
 * numbers of bytes. `applyDefaults` (engine/spec/resolve.ts) makes one at build time;
 * `substituteParameters` fills in the deployment's parameter values at cold start.
 */
import type { ResolvedSpec, ResolvedTestCase } from './spec-types.ts';
import { setEntry } from './copy-map.ts';

export type { ResolvedSink, ResolvedSource, ResolvedSpec, SinkConfig, SourceConfig, StepConfig } from './spec-types.ts';
export type TestCase = ResolvedTestCase;

/**
 * Parameter values that do not fit the spec's declarations: a value for a name the spec does not
 * declare, or a declared parameter with neither a value nor a default. The message names each
 * problem, how to supply a value, and every declared parameter.
 */
export class ParameterError extends Error {
  override name = 'ParameterError';
  constructor(
    message: string,
    readonly unknown: readonly string[],
    readonly missing: readonly string[],
  ) {
    super(message);
  }
}

const PARAMETER = /\$\{param\.([a-z][a-z0-9_]*)\}/g;

/**
 * Throws `ParameterError` when `given` names a parameter the spec does not declare (unless
 * `allowUnknown`: the Lambda's environment may hold variables of other versions), or when a
 * `required` parameter (every declared one by default) has neither a value in `given` nor a
 * default. `supply(name)` says how a value is given, for the message: `--param name=<value>`,
 * `INGEST_PARAM_NAME`...
 */
export function checkParameters(
  spec: Pick<ResolvedSpec, 'parameters'>,
  given: Readonly<Record<string, string>>,
  supply: (name: string) => string,
  options: { required?: Iterable<string>; allowUnknown?: boolean } = {},
): void {
  const declared = spec.parameters ?? {};
  const unknown = options.allowUnknown ? [] : Object.keys(given).filter((name) => !Object.hasOwn(declared, name));
  const required = [...new Set(options.required ?? Object.keys(declared))];
  const missing = required.filter((name) => Object.hasOwn(declared, name) && declared[name]!.default === undefined && !Object.hasOwn(given, name));
  if (unknown.length === 0 && missing.length === 0) return;
  const problems = [
    ...unknown.map((name) => `${name} is not a declared parameter (given as ${supply(name)})`),
    ...missing.map((name) => `parameter ${name} has no value and no default; supply it with ${supply(name)}`),
  ];
  throw new ParameterError(`${problems.join('; ')} (declared parameters: ${describeDeclared(spec)})`, unknown, missing);
}

/** The names of the parameters that strings anywhere in `value` refer to as `${param.<name>}`. */
export function parameterReferences(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    for (const match of value.matchAll(PARAMETER)) found.add(match[1]!);
  } else if (Array.isArray(value)) {
    for (const item of value) parameterReferences(item, found);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) parameterReferences(item, found);
  }
  return found;
}

/** The declared parameters for a message: `pii_salt (no default), region (default "eu-west-1")`, or `none`. */
export function describeDeclared(spec: Pick<ResolvedSpec, 'parameters'>): string {
  const entries = Object.entries(spec.parameters ?? {});
  if (entries.length === 0) return 'none';
  return entries.map(([name, declaration]) => `${name} (${declaration.default === undefined ? 'no default' : `default ${JSON.stringify(declaration.default)}`})`).join(', ');
}

/** Declared defaults overlaid with the given values of declared parameters. */
export function parameterValues(spec: Pick<ResolvedSpec, 'parameters'>, given: Readonly<Record<string, string>>): Record<string, string> {
  const values: Record<string, string> = Object.create(null);
  const declared = spec.parameters ?? {};
  for (const [name, declaration] of Object.entries(declared)) {
    if (Object.hasOwn(given, name)) values[name] = given[name]!;
    else if (declaration.default !== undefined) values[name] = String(declaration.default);
  }
  return values;
}

/**
 * Replaces `${param.x}` references with the deployment's values (declared defaults fill the
 * rest). A parameter with neither stays a reference: callers that run the spec call
 * `checkParameters` first, so that only `ingest test` (whose sinks are captures) and packaging
 * see one. Tests are literal data, and steps resolve their own references (a hash salt) from the
 * step environment, so neither is touched. Never mutates `spec`; copies hold no prototype.
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
    const result: Record<string, unknown> = Object.create(null);
    for (const [field, item] of Object.entries(value)) setEntry(result, field, substitute(item, parameters));
    return result;
  }
  return value;
}
