import type { ErrorObject } from 'ajv';
import schema from '../../ingest.schema.json' with { type: 'json' };
import type { SpecCode } from '../errors.ts';
import type { Diagnostic, SpecPath } from './diagnostic.ts';
import type { LoadedSpec } from './load.ts';
import { diagnosticAt } from './load.ts';
import { formatSize, isSizeField } from './size.ts';

/**
 * Turns ajv's errors into diagnostics a person can act on: one per problem, located at the key
 * (unknown field) or value (wrong value) or parent mapping (missing field), with the allowed
 * values and a "did you mean" where one is close.
 */
export function schemaDiagnostics(spec: LoadedSpec, errors: readonly ErrorObject[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of withoutBranchNoise(errors)) {
    const converted = convert(spec, error);
    if (!converted) continue;
    const identity = `${converted.line}:${converted.column}:${converted.code}:${converted.message}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    diagnostics.push(converted);
  }
  return diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * A value that fails every branch of a `oneOf` or `anyOf` gets an error from each branch and
 * one for the whole. When one branch had the value's type and failed on something specific
 * (a pattern, a missing field, a nested value), that is the problem: the other branches' type
 * errors and the summary only add noise. Rename's `{ a: __proto__ }` then says the field path
 * is reserved, not also that it is not a mapping.
 */
function withoutBranchNoise(errors: readonly ErrorObject[]): readonly ErrorObject[] {
  const alternatives = new Set(errors.filter((error) => error.keyword === 'oneOf' || error.keyword === 'anyOf').map((error) => error.instancePath));
  if (alternatives.size === 0) return errors;
  const specific = (path: string) =>
    errors.some((error) => !['type', 'oneOf', 'anyOf'].includes(error.keyword) && (error.instancePath === path || error.instancePath.startsWith(`${path}/`)));
  const noisy = new Set([...alternatives].filter(specific));
  return errors.filter((error) => !(noisy.has(error.instancePath) && ['type', 'oneOf', 'anyOf'].includes(error.keyword)));
}

function convert(spec: LoadedSpec, error: ErrorObject): Diagnostic | undefined {
  const path = parsePointer(error.instancePath);
  const field = describeField(path);
  const params = error.params as Record<string, unknown>;
  const at = (code: SpecCode, message: string, target: 'key' | 'value' = 'value', where: SpecPath = path) =>
    diagnosticAt(spec, where, code, message, { target });

  if (error.propertyName !== undefined) {
    // An invalid key (component id, parameter name, a field path of `set`, `cast`...): point at the key itself.
    const name = error.propertyName;
    const pathProblem = error.keyword === 'pattern' ? fieldPathProblem(error, name) : undefined;
    if (pathProblem) return at(pathProblem.code, `field path ${quote(name)} in ${field} ${pathProblem.message}`, 'key', [...path, name]);
    const what = path.length === 1 && SECTION_NOUN[String(path[0])] ? `${kindOf(path)} id` : path[0] === 'parameters' ? 'parameter name' : 'key';
    return at(error.keyword === 'maxLength' ? 'out-of-range' : 'invalid-value', `${what} ${quote(name)} is invalid: ${hint(error)}`, 'key', [...path, name]);
  }

  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      if (isStepPath(path)) {
        return at('invalid-step', `unknown step kind \`${name}\`${suggest(name, allowed)}; step kinds: ${allowed.join(', ')}`, 'key', [...path, name]);
      }
      return at('unknown-field', `unknown field \`${name}\` in ${field}${suggest(name, allowed)}; expected one of: ${allowed.join(', ')}`, 'key', [...path, name]);
    }
    case 'required':
    case 'dependentRequired': {
      const missing = String(params.missingProperty);
      const because = error.keyword === 'dependentRequired' ? ` (needed with \`${String(params.property)}\`)` : '';
      return at('missing-field', `${field} is missing required field \`${missing}\`${because}`);
    }
    case 'discriminator': {
      // A missing `type` is also reported by `required`.
      if (params.error === 'tag') return undefined;
      const allowed = discriminatorValues(error);
      const value = String(params.tagValue);
      return at('unknown-type', `unknown ${kindOf(path)} type \`${value}\`${suggest(value, allowed)}; expected one of: ${allowed.join(', ')}`, 'value', [...path, 'type']);
    }
    case 'false schema': {
      const name = String(path.at(-1));
      const owner = describeField(path.slice(0, -1));
      return at('conflicting-fields', `\`${name}\` cannot be combined with the other fields of ${owner}; see its description for which to give`, 'key');
    }
    case 'type':
      return at('wrong-type', `${field} must be ${article(String(params.type))}, not ${describeType(error.data)}`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      return at('invalid-value', `${field} has invalid value ${quote(error.data)}${suggest(String(error.data), allowed)}; expected one of: ${allowed.join(', ')}`);
    }
    case 'const': {
      // `version: "1"`: the same text, another type; say which.
      const [allowed, given] = typeof params.allowedValue === typeof error.data ? [quote(params.allowedValue), quote(error.data)] : [describeType(params.allowedValue), describeType(error.data)];
      return at('invalid-value', `${field} must be ${allowed}, not ${given}`);
    }
    case 'pattern': {
      const pathProblem = fieldPathProblem(error, error.data);
      if (pathProblem) return at(pathProblem.code, `${field}: field path ${quote(error.data)} ${pathProblem.message}`);
      return at('invalid-value', `${field} has invalid value ${quote(error.data)}: ${hint(error)}`);
    }
    case 'format':
      return at('invalid-value', `${field} has invalid value ${quote(error.data)}: ${hint(error)}`);
    case 'propertyNames':
      // The nested pattern error carries the message; this wrapper adds nothing.
      return undefined;
    case 'minProperties':
    case 'maxProperties': {
      if (isStepPath(path)) {
        return at('invalid-step', 'a step has exactly one kind, e.g. `- filter: ...`; split this step into one per kind');
      }
      // A mapping of exactly one of several named fields (a connection, a `create`): a choice.
      const choices = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      if (params.limit === 1 && choices.length > 1) {
        const options = choices.map((choice) => `\`${choice}\``).join(', ');
        if (error.keyword === 'minProperties') return at('missing-field', `${field} needs one of ${options}`);
        const given = Object.keys((error.data as object | null) ?? {});
        const named = given.map((name) => `\`${name}\``);
        return at('conflicting-fields', `${field} has ${named.slice(0, -1).join(', ')} and ${named.at(-1)!}; give only one of them`, 'key', [...path, given.at(-1)!]);
      }
      return at('out-of-range', `${field} must have ${error.keyword === 'minProperties' ? 'at least' : 'at most'} ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`);
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const bound = error.keyword.endsWith('inimum') ? 'at least' : 'at most';
      if (isSizeField(path.at(-1) ?? '')) {
        // The schema saw the size in bytes; show what the spec says as well.
        const written = valueAt(spec.value, path);
        const value = typeof written === 'string' ? `\`${written}\` (${bytesText(Number(error.data))})` : bytesText(Number(error.data));
        return at('out-of-range', `${field} is ${value}; it must be ${bound} ${formatSize(Number(params.limit))}${Number(params.limit) >= 1024 ? ` (${Number(params.limit)} bytes)` : ''}`);
      }
      return at('out-of-range', `${field} is ${String(error.data)}; it must be ${String(params.comparison)} ${String(params.limit)}`);
    }
    case 'minLength':
    case 'maxLength':
      return at('out-of-range', `${field} must be ${error.keyword === 'minLength' ? 'at least' : 'at most'} ${String(params.limit)} characters long`);
    case 'minItems':
    case 'maxItems':
      return at('out-of-range', `${field} must have ${error.keyword === 'minItems' ? 'at least' : 'at most'} ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
    case 'uniqueItems':
      return at('invalid-value', `${field} lists the same value twice (items ${String(params.j)} and ${String(params.i)})`);
    case 'multipleOf':
      return at('out-of-range', `${field} must be a multiple of ${String(params.multipleOf)}`);
    case 'if':
    case 'anyOf':
    case 'oneOf':
    case 'not':
      // Summaries of branch errors that are reported on their own; keep only when alone (see below).
      return error.keyword === 'if' ? undefined : at('invalid-value', `${field} does not match any allowed form: ${error.message ?? ''}`);
    default:
      return at('invalid-value', `${field} ${error.message ?? 'is invalid'}`);
  }
}

/** The one definition of a record field path, shared by every position that names a field. */
const FIELD_PATH_PATTERN = (schema.$defs as Record<string, { pattern?: string }>)['defs.identifier.field_path']?.pattern;
const RESERVED_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What is wrong with a field path that failed the field path pattern: a reserved segment
 * (`reserved-field-name`) or an empty one. `undefined` when the failed pattern is another one.
 */
function fieldPathProblem(error: ErrorObject, text: unknown): { code: SpecCode; message: string } | undefined {
  if (FIELD_PATH_PATTERN === undefined || (error.params as { pattern?: string }).pattern !== FIELD_PATH_PATTERN || typeof text !== 'string') return undefined;
  const reserved = text.split('.').find((segment) => RESERVED_SEGMENTS.has(segment));
  if (reserved !== undefined) {
    return { code: 'reserved-field-name', message: `uses the reserved name \`${reserved}\`; \`__proto__\`, \`constructor\` and \`prototype\` could reach an object's prototype and are refused in every field path` };
  }
  return { code: 'invalid-value', message: 'has an empty segment: dots separate the names of nested fields, and each name needs at least one character' };
}

function bytesText(bytes: number): string {
  return Number.isSafeInteger(bytes) ? `${bytes} byte${bytes === 1 ? '' : 's'}` : 'more bytes than a number holds exactly';
}

/** The value at `path` in the spec as written, before sizes became bytes. */
function valueAt(value: unknown, path: SpecPath): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function parsePointer(pointer: string): SpecPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function isStepPath(path: SpecPath): boolean {
  return path.length === 4 && path[0] === 'transforms' && path[2] === 'steps' && typeof path[3] === 'number';
}

const SECTION_NOUN: Record<string, string> = { sources: 'source', transforms: 'transform', sinks: 'sink' };

function kindOf(path: SpecPath): string {
  return SECTION_NOUN[String(path[0])] ?? 'component';
}

/** A readable name for the place in the spec: `source \`clicks\``, `field \`batch.max_records\` of sink \`archive\``. */
function describeField(path: SpecPath): string {
  if (path.length === 0) return 'the spec';
  const section = SECTION_NOUN[String(path[0])];
  if (section && path.length >= 2) {
    const owner = `${section} \`${String(path[1])}\``;
    if (path.length === 2) return owner;
    return `\`${dotted(path.slice(2))}\` of ${owner}`;
  }
  return `\`${dotted(path)}\``;
}

function dotted(path: SpecPath): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

type BranchSchema = { $ref?: string; properties?: { type?: { const?: string; enum?: string[] } } };

function discriminatorValues(error: ErrorObject): string[] {
  const branches = (error.parentSchema?.oneOf as BranchSchema[] | undefined) ?? [];
  return branches.flatMap((branch) => {
    const resolved = branch.$ref?.startsWith('#/$defs/') ? (schema.$defs as Record<string, BranchSchema>)[branch.$ref.slice(8)] : branch;
    const type = resolved?.properties?.type;
    return type?.const !== undefined ? [type.const] : (type?.enum ?? []);
  });
}

function hint(error: ErrorObject): string {
  const description = (error.schema && typeof error.parentSchema?.description === 'string' ? error.parentSchema.description : undefined) as string | undefined;
  if (error.keyword === 'format') return `expected a ${String((error.params as { format: string }).format)}`;
  const pattern = String((error.params as { pattern: string }).pattern);
  return description ? firstSentence(description) : `it must match ${pattern}`;
}

function firstSentence(text: string): string {
  const end = text.indexOf('. ');
  return end < 0 ? text.replace(/\.$/, '') : text.slice(0, end);
}

function article(type: string): string {
  const words = type.split(',').map((word) => (word === 'integer' ? 'an integer' : word === 'object' ? 'a mapping' : word === 'array' ? 'a list' : `a ${word}`));
  return words.join(' or ');
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  return `the ${typeof value} ${String(value)}`;
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `\`${text.length > 60 ? text.slice(0, 57) + '...' : text}\``;
}

/**
 * ` (did you mean \`x\`?)` when one allowed value is within a small edit distance, or else when
 * one of the two extends the other by whole snake_case words (`bucket_name` → `bucket`).
 */
export function suggest(value: string, allowed: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(value.length / 3)) + 1;
  for (const candidate of allowed) {
    const distance = editDistance(value.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  best ??= allowed.find((candidate) => extendsByWords(value.toLowerCase(), candidate.toLowerCase()));
  return best === undefined ? '' : ` (did you mean \`${best}\`?)`;
}

function extendsByWords(a: string, b: string): boolean {
  const [longer, shorter] = a.length >= b.length ? [a, b] : [b, a];
  return shorter.length >= 3 && (longer.startsWith(`${shorter}_`) || longer.endsWith(`_${shorter}`));
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
