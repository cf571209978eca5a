import schema from '../../ingest.schema.json' with { type: 'json' };
import type { SpecCode } from '../errors.ts';
import { checkExpression } from '../expression/index.ts';
import { checkTemplate } from '../template/index.ts';
import { parseFieldPath } from '../transforms/field-path.ts';
import { SINK_CHECKS, SOURCE_CHECKS, STEP_CHECKS } from '../plugin/checks.ts';
import type { CheckContext, SpecFiles } from '../plugin/checks.ts';
import { keyPrefixProblem, literalPrefix } from '../sinks/s3/check.ts';
import type { Diagnostic, SpecPath } from './diagnostic.ts';
import type { LoadedSpec } from './load.ts';
import { diagnosticAt } from './load.ts';
import { logicalIdOf } from './logical-id.ts';
import { forEachTyped } from './schema-positions.ts';

/**
 * Longest suffix the generator appends to `<name>-<id>-` when naming a per-component resource
 * (see docs/decisions/0006-resource-names.md), and the tightest AWS limit among those resources
 * (Lambda function, EventBridge rule: 64 characters).
 */
const RESOURCE_SUFFIX_LENGTH = 7;
const RESOURCE_NAME_LIMIT = 64;

const PARAM_REFERENCE = /\$\{param\.([^}]*)\}/g;

/**
 * What each kind of template is rendered with, by the schema definition that types it: the
 * names a template's paths may start with. Must match the runtime exactly (a test renders each
 * kind with the context its runtime passes): the S3 sink key, the search sink's index, id,
 * routing and version, and the `template` step render with `{ record, meta, now }`; the
 * dead-letter writer with `{ stage, now, meta }`; SQL statements of a load with `{ sink, table, now }`.
 */
export const TEMPLATE_ROOTS: Readonly<Record<string, readonly string[]>> = Object.assign(Object.create(null), {
  '#/$defs/defs.template.template': ['record', 'meta', 'now'],
  '#/$defs/defs.template.dead_letter_prefix': ['stage', 'meta', 'now'],
  '#/$defs/defs.template.sql_template': ['sink', 'table', 'now'],
});
const TEMPLATE_REFS: ReadonlySet<string> = new Set(Object.keys(TEMPLATE_ROOTS));
/** The definitions of a record field path: one path, or a list of them. */
const FIELD_PATH_REFS: ReadonlySet<string> = new Set(['#/$defs/defs.identifier.field_path', '#/$defs/defs.identifier.field_list']);

type Section = 'sources' | 'transforms' | 'sinks';
type Component = { [field: string]: unknown };

/**
 * The checks JSON Schema cannot express: references between components, graph shape,
 * expressions and templates, overlapping sources, plugin rules. Runs offline: no network, no
 * credentials; `files` reads what the spec refers to (JSON Schema files, test events).
 * Assumes the spec already passed the JSON Schema.
 */
export function checkSpec(spec: LoadedSpec, files: SpecFiles): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const report = (path: SpecPath, code: SpecCode, message: string, options?: { target?: 'key' | 'value'; severity?: 'error' | 'warning' }) => {
    diagnostics.push(diagnosticAt(spec, path, code, message, options));
  };
  const value = spec.value;
  const name = String(value.name);
  const sections = {
    sources: entries(value.sources),
    transforms: entries(value.transforms),
    sinks: entries(value.sinks),
  };

  const owner = new Map<string, Section>();
  for (const section of ['sources', 'transforms', 'sinks'] as const) {
    for (const [id] of sections[section]) {
      const earlier = owner.get(id);
      if (earlier) {
        report([section, id], 'duplicate-id', `id \`${id}\` is already used in ${earlier}; sources, transforms and sinks share one namespace`, { target: 'key' });
        continue;
      }
      owner.set(id, section);
      if (name.length + 1 + id.length + 1 + RESOURCE_SUFFIX_LENGTH > RESOURCE_NAME_LIMIT) {
        const room = RESOURCE_NAME_LIMIT - RESOURCE_SUFFIX_LENGTH - 2 - name.length;
        report([section, id], 'name-too-long', `id \`${id}\` is too long for pipeline \`${name}\`: AWS resource names built from both would exceed ${RESOURCE_NAME_LIMIT} characters; use at most ${room} characters`, { target: 'key' });
      }
    }
  }

  checkLogicalIds(value, sections, report);
  checkGraph(sections, owner, report);
  checkParameters(value, report);
  checkLanguages(value, sections, report);
  checkFieldPaths(value, report);

  const context = (base: SpecPath): CheckContext => ({
    report: (path, code, message, options) => report([...base, ...path], code, message, options),
    files,
  });
  for (const [id, source] of sections.sources) SOURCE_CHECKS[String(source.type)]?.(source, context(['sources', id]));
  for (const [id, sink] of sections.sinks) SINK_CHECKS[String(sink.type)]?.(sink, context(['sinks', id]));
  for (const [id, transform] of sections.transforms) {
    list(transform.steps).forEach((step, index) => {
      const [kind] = Object.keys(step as Component);
      if (kind) STEP_CHECKS[kind]?.((step as Component)[kind], context(['transforms', id, 'steps', index, kind]));
    });
  }
  checkOverlappingS3Sources(sections.sources, report);
  const deadLetterPrefix = (value.dead_letter as Component | undefined)?.prefix;
  const deadLetterProblem = typeof deadLetterPrefix === 'string' ? keyPrefixProblem(deadLetterPrefix) : undefined;
  if (deadLetterProblem) report(['dead_letter', 'prefix'], 'invalid-key-prefix', `dead-letter prefix \`${String(deadLetterPrefix)}\` ${deadLetterProblem}`);
  checkSelfTrigger(spec, sections, report);
  checkTests(value, owner, files, report);
  return diagnostics;
}

type Report = (path: SpecPath, code: SpecCode, message: string, options?: { target?: 'key' | 'value'; severity?: 'error' | 'warning' }) => void;

function checkGraph(sections: Record<Section, [string, Component][]>, owner: Map<string, Section>, report: Report): void {
  const inputsOf = new Map<string, string[]>();
  for (const section of ['transforms', 'sinks'] as const) {
    for (const [id, component] of sections[section]) {
      const inputs = list(component.inputs).map(String);
      inputsOf.set(id, inputs);
      inputs.forEach((input, index) => {
        if (!owner.has(input)) {
          const known = [...owner.keys()].filter((candidate) => owner.get(candidate) !== 'sinks');
          report([section, id, 'inputs', index], 'unknown-input', `input \`${input}\` names no source or transform; known: ${known.join(', ') || 'none'}`);
        } else if (owner.get(input) === 'sinks') {
          report([section, id, 'inputs', index], 'unknown-input', `input \`${input}\` is a sink; inputs name sources or transforms`);
        }
      });
    }
  }

  // Cycles among transforms: depth-first search, reporting the input that closes each cycle.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): void => {
    state.set(id, 'visiting');
    list(inputsOf.get(id)).forEach((input, index) => {
      const next = String(input);
      if (owner.get(next) !== 'transforms') return;
      if (state.get(next) === 'visiting') {
        // `path` runs from a transform to its inputs; reversed, the arrows follow the records.
        const path = [...trail, id];
        const cycle = [...path.slice(path.indexOf(next)), next].reverse().join(' -> ');
        report(['transforms', id, 'inputs', index], 'transform-cycle', `transforms feed each other in a cycle: ${cycle}`);
      } else if (!state.has(next)) {
        visit(next, [...trail, id]);
      }
    });
    state.set(id, 'done');
  };
  for (const [id] of sections.transforms) if (!state.has(id)) visit(id, []);

  // Reachability: a component is fed when any input is a source or a fed transform.
  const fed = new Set(sections.sources.map(([id]) => id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id] of sections.transforms) {
      if (!fed.has(id) && list(inputsOf.get(id)).some((input) => fed.has(String(input)))) {
        fed.add(id);
        changed = true;
      }
    }
  }
  for (const [id] of sections.sinks) {
    const inputs = inputsOf.get(id) ?? [];
    // An input that names nothing or a sink is already reported as unknown-input.
    const wellFormed = inputs.every((input) => owner.has(input) && owner.get(input) !== 'sinks');
    if (wellFormed && !inputs.some((input) => fed.has(input))) {
      report(['sinks', id], 'unreachable-sink', `sink \`${id}\` receives records from no source: its inputs (${inputs.join(', ')}) are not fed by any source`, { target: 'key' });
    }
  }
  const used = new Set([...inputsOf.values()].flat());
  for (const [id] of sections.sources) {
    if (!used.has(id)) report(['sources', id], 'unused-source', `source \`${id}\` feeds no transform or sink; its records would be read and discarded`, { target: 'key', severity: 'warning' });
  }
}

function checkParameters(value: Component, report: Report): void {
  const declared = new Set(Object.keys((value.parameters as object | undefined) ?? {}));
  // Test cases hold records: their strings are data, not spec text.
  for (const [key, item] of Object.entries(value)) {
    if (key === 'tests') continue;
    walkStrings(item, [key], (text, path) => {
      // Most strings refer to no parameter: a plain search is cheaper than starting a regex iteration.
      if (!text.includes('${param.')) return;
      for (const match of text.matchAll(PARAM_REFERENCE)) {
        const parameter = match[1]!;
        if (!declared.has(parameter)) {
          const known = [...declared].join(', ') || 'none declared';
          report([...path], 'undeclared-parameter', `\`\${param.${parameter}}\` refers to an undeclared parameter (parameters: ${known})`);
        }
      }
    });
  }
}

function checkLanguages(value: Component, sections: Record<Section, [string, Component][]>, report: Report): void {
  const expression = (source: unknown, path: SpecPath, expect: 'bool' | 'any') => {
    if (typeof source !== 'string') return;
    for (const problem of checkExpression(source, { expect })) {
      const where = problem.offset === undefined ? '' : ` (at character ${problem.offset + 1})`;
      report(path, problem.code, `${problem.message}${where} in expression \`${source}\``);
    }
  };
  // Every template the schema types, wherever it is: a field added to a fragment is checked too.
  forEachTyped(value, TEMPLATE_REFS, (ref, source, path) => {
    // Every Handlebars construct opens with `{{`: text without one is literal and needs no compiling.
    if (typeof source !== 'string' || !source.includes('{{')) return;
    for (const problem of checkTemplate(source, TEMPLATE_ROOTS[ref])) report(path, problem.code, `${problem.message} in template \`${source}\``);
  });

  for (const [id, transform] of sections.transforms) {
    list(transform.steps).forEach((step, index) => {
      const path = ['transforms', id, 'steps', index];
      const { filter, set, dedupe } = step as Component;
      if (filter !== undefined) expression(filter, [...path, 'filter'], 'bool');
      for (const [field, source] of entries(set)) expression(source, [...path, 'set', field], 'any');
      if (dedupe) expression((dedupe as Component).key, [...path, 'dedupe', 'key'], 'any');
    });
  }
  for (const [id, sink] of sections.sinks) expression(sink.where, ['sinks', id, 'where'], 'bool');
}

/**
 * Every field path the schema types, parsed as the steps parse it when they compile: the schema's
 * pattern and the runtime's rules are two statements of one definition, and this keeps a spec
 * that satisfies the first from failing the second at cold start.
 */
function checkFieldPaths(value: Component, report: Report): void {
  const check = (text: unknown, path: SpecPath, target: 'key' | 'value') => {
    if (typeof text !== 'string') return;
    try {
      parseFieldPath(text);
    } catch (error) {
      const reserved = /prototype safety/.test((error as Error).message);
      report(path, reserved ? 'reserved-field-name' : 'invalid-value', `field path \`${text}\` cannot be used: ${(error as Error).message}`, { target });
    }
  };
  forEachTyped(value, FIELD_PATH_REFS, (_ref, text, path, target) => {
    if (Array.isArray(text)) text.forEach((item, index) => check(item, [...path, index], 'value'));
    else check(text, path, target);
  });
}

/** Two S3 sources overlap when one object could match both: same bucket, nested prefixes, compatible suffixes. */
function checkOverlappingS3Sources(sources: [string, Component][], report: Report): void {
  const s3 = sources.filter(([, source]) => source.type === 's3');
  for (const [index, [id, source]] of s3.entries()) {
    for (const [otherId, other] of s3.slice(0, index)) {
      if (source.bucket !== other.bucket) continue;
      const [prefix, otherPrefix] = [String(source.prefix ?? ''), String(other.prefix ?? '')];
      const [suffix, otherSuffix] = [String(source.suffix ?? ''), String(other.suffix ?? '')];
      const prefixesNest = prefix.startsWith(otherPrefix) || otherPrefix.startsWith(prefix);
      const suffixesNest = suffix.endsWith(otherSuffix) || otherSuffix.endsWith(suffix);
      if (prefixesNest && suffixesNest) {
        report(['sources', id], 'overlapping-s3-sources', `source \`${id}\` and source \`${otherId}\` both match objects in bucket \`${String(source.bucket)}\` under prefix \`${prefix.length > otherPrefix.length ? prefix : otherPrefix}\`; each object would be ingested twice. Make the prefixes or suffixes disjoint`, { target: 'key' });
      }
    }
  }
}

/** Where the pipeline writes objects: an S3 sink, the dead-letter location or a staging location. */
interface S3Output {
  /** The spec path of the field naming the keys (the sink's `key`, a `prefix`) or, without one, of the location. */
  path: SpecPath;
  what: string;
  bucket: string;
  /** The literal start of every key written (the prefix template up to its first `{{`). */
  keyStart: string;
  /** Whether the prefix is all literal: every key is then `keyStart` and a name without `/`. */
  literal: boolean;
  /** How written keys end (`.jsonl.gz`...). */
  suffixes: string[];
}

/** The dead-letter prefix when the spec gives none: the schema's default. */
const DEFAULT_DEAD_LETTER_PREFIX = String((schema.$defs.dead_letter.properties.prefix as { default?: string }).default ?? '');

function s3Outputs(value: Component, sections: Record<Section, [string, Component][]>): S3Output[] {
  const outputs: S3Output[] = [];
  const deadLetter = value.dead_letter as Component | undefined;
  if (deadLetter && typeof deadLetter.bucket === 'string') {
    const prefix = typeof deadLetter.prefix === 'string' ? deadLetter.prefix : DEFAULT_DEAD_LETTER_PREFIX;
    outputs.push({ path: deadLetter.prefix === undefined ? ['dead_letter', 'bucket'] : ['dead_letter', 'prefix'], what: 'the dead-letter location', bucket: deadLetter.bucket, keyStart: literalPrefix(prefix), literal: !prefix.includes('{{'), suffixes: ['.jsonl'] });
  }
  for (const [id, sink] of sections.sinks) {
    if (sink.type === 's3' && typeof sink.bucket === 'string' && typeof sink.key === 'string') {
      const format = sink.format === 'csv' ? 'csv' : 'jsonl';
      const suffix = sink.compression === 'none' ? `.${format}` : `.${format}.gz`;
      outputs.push({ path: ['sinks', id, 'key'], what: `sink \`${id}\``, bucket: sink.bucket, keyStart: literalPrefix(sink.key), literal: !sink.key.includes('{{'), suffixes: [suffix] });
    }
    const staging = sink.staging as Component | undefined;
    if (staging && typeof staging.bucket === 'string') {
      const format = staging.format === 'csv' ? 'csv' : 'jsonl';
      const prefix = typeof staging.prefix === 'string' ? staging.prefix : `${String(value.name)}/${id}/`;
      outputs.push({ path: ['sinks', id, 'staging', staging.prefix === undefined ? 'bucket' : 'prefix'], what: `the staging location of sink \`${id}\``, bucket: staging.bucket, keyStart: prefix, literal: false, suffixes: [`.${format}`, `.${format}.gz`] });
    }
  }
  return outputs;
}

/**
 * A pipeline must not read what it writes: an S3 source notified of the objects its own sinks,
 * dead letters or staged files create would invoke the function for each of them, forever.
 * An output can reach a source when both name the same bucket (the same name, or the same
 * parameter reference), some key can start with both the source's prefix and the output's
 * literal prefix, and the output's keys can end with the source's suffix. Object names end in a
 * count and the format's extension (`-12.jsonl.gz`), which decides the suffix question.
 */
function checkSelfTrigger(spec: LoadedSpec, sections: Record<Section, [string, Component][]>, report: Report): void {
  const sources = sections.sources.filter(([, source]) => source.type === 's3' && typeof source.bucket === 'string');
  if (sources.length === 0) return;
  for (const output of s3Outputs(spec.value, sections)) {
    for (const [id, source] of sources) {
      if (source.bucket !== output.bucket) continue;
      const prefix = typeof source.prefix === 'string' ? source.prefix : '';
      const suffix = typeof source.suffix === 'string' ? source.suffix : '';
      if (!keysCanStartWith(output, prefix)) continue;
      if (!output.suffixes.some((ending) => suffixCanMatch(ending, suffix))) continue;
      const at = spec.locate(['sources', id], 'key');
      report(
        output.path,
        'self-trigger',
        `${output.what} writes to s3://${output.bucket}/${output.keyStart}…, which source \`${id}\` (line ${at.line}:${at.column}) reads (${prefix ? `prefix \`${prefix}\`` : 'any key'}${suffix ? `, suffix \`${suffix}\`` : ''}): every object written would invoke the pipeline again. Use another bucket, or prefixes that do not overlap`,
      );
    }
  }
}

/** Whether some key the output writes can start with `prefix`. */
function keysCanStartWith(output: S3Output, prefix: string): boolean {
  if (output.keyStart.startsWith(prefix)) return true;
  if (!prefix.startsWith(output.keyStart)) return false;
  // A literal prefix is followed by the engine's object name, which holds no `/`.
  return !(output.literal && prefix.slice(output.keyStart.length).includes('/'));
}

/** Whether a key ending in `ending` (after a name ending in a digit) can end with `suffix`. */
function suffixCanMatch(ending: string, suffix: string): boolean {
  if (ending.endsWith(suffix)) return true;
  if (!suffix.endsWith(ending)) return false;
  // The engine's names end in a count just before the extension.
  return /[0-9]$/.test(suffix.slice(0, -ending.length));
}

function checkTests(value: Component, owner: Map<string, Section>, files: SpecFiles, report: Report): void {
  const names = new Map<string, number>();
  list(value.tests).forEach((test, index) => {
    const testCase = test as Component;
    const name = String(testCase.name);
    if (names.has(name)) report(['tests', index, 'name'], 'duplicate-test-name', `test name \`${name}\` is already used by test ${names.get(name)! + 1}`);
    else names.set(name, index);
    for (const [sourceId, given] of entries(testCase.given)) {
      if (owner.get(sourceId) !== 'sources') {
        report(['tests', index, 'given', sourceId], 'unknown-test-target', `\`given\` names \`${sourceId}\`, which is not a source`, { target: 'key' });
      } else if (given && typeof given === 'object' && !Array.isArray(given)) {
        const event = (given as Component).event;
        if (typeof event === 'string' && !files.exists(event)) {
          report(['tests', index, 'given', sourceId, 'event'], 'missing-file', `test event file \`${event}\` cannot be read (paths are relative to the spec)`);
        }
        const sourceType = (entries(value.sources).find(([id]) => id === sourceId)?.[1] as Component | undefined)?.type;
        for (const [location, file] of entries((given as Component).objects)) {
          if (sourceType !== 's3') {
            report(['tests', index, 'given', sourceId, 'objects'], 'invalid-value', `\`objects\` supply S3 objects, but source \`${sourceId}\` is a ${String(sourceType)} source`, { target: 'key' });
            break;
          }
          if (typeof file === 'string' && !files.exists(file)) {
            report(['tests', index, 'given', sourceId, 'objects', location], 'missing-file', `file \`${file}\` of test object \`${location}\` cannot be read (paths are relative to the spec)`);
          }
        }
      }
    }
    for (const sinkId of Object.keys((testCase.expect as object | undefined) ?? {})) {
      if (owner.get(sinkId) !== 'sinks') report(['tests', index, 'expect', sinkId], 'unknown-test-target', `\`expect\` names \`${sinkId}\`, which is not a sink`, { target: 'key' });
    }
    list(testCase.expect_dead_letter).forEach((letter, letterIndex) => {
      const component = (letter as Component).component;
      if (typeof component === 'string' && !owner.has(component)) {
        report(['tests', index, 'expect_dead_letter', letterIndex, 'component'], 'unknown-test-target', `\`expect_dead_letter\` names component \`${component}\`, which the spec does not declare`);
      }
    });
  });
}

/**
 * Source and sink ids, and parameter names, reach CloudFormation logical ids in CamelCase
 * (docs/decisions/0041-logical-ids.md), where `x_1` and `x1` are both `X1`: the generator would
 * refuse such a spec, so validate does first.
 */
function checkLogicalIds(value: Component, sections: Record<Section, [string, Component][]>, report: Report): void {
  const groups: [SpecPath, string[], string][] = [
    [[], [...sections.sources, ...sections.sinks].map(([id]) => id), 'id'],
    [['parameters'], entries(value.parameters).map(([name]) => name), 'parameter'],
  ];
  for (const [base, names, noun] of groups) {
    const seen = new Map<string, string>();
    for (const name of names) {
      const form = logicalIdOf(name);
      const earlier = seen.get(form);
      if (earlier === undefined) seen.set(form, name);
      else if (earlier !== name) {
        const path: SpecPath = base.length > 0 ? [...base, name] : [sections.sources.some(([id]) => id === name) ? 'sources' : 'sinks', name];
        report(path, 'logical-id-collision', `${noun} \`${name}\` and ${noun} \`${earlier}\` both become ${form} in the generated template's logical ids; rename one of them`, { target: 'key' });
      }
    }
  }
}

function entries(value: unknown): [string, Component][] {
  return value && typeof value === 'object' ? (Object.entries(value) as [string, Component][]) : [];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Calls `visit` for every string in `value`, with its path. The path is one array, pushed and popped
 * as the walk descends (most strings need none): `visit` copies it to keep it.
 */
function walkStrings(value: unknown, path: (string | number)[], visit: (text: string, path: SpecPath) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      path.push(index);
      walkStrings(value[index], path, visit);
      path.pop();
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      path.push(key);
      walkStrings(item, path, visit);
      path.pop();
    }
  }
}
