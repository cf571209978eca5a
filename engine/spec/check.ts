import type { SpecCode } from '../errors.ts';
import { checkExpression } from '../expression/index.ts';
import { checkTemplate } from '../template/index.ts';
import { SINK_CHECKS, SOURCE_CHECKS, STEP_CHECKS } from '../plugin/checks.ts';
import type { CheckContext, SpecFiles } from '../plugin/checks.ts';
import type { Diagnostic, SpecPath } from './diagnostic.ts';
import type { LoadedSpec } from './load.ts';
import { diagnosticAt } from './load.ts';

/**
 * Longest suffix the generator appends to `<name>-<id>-` when naming a per-component resource
 * (see docs/decisions/0006-resource-names.md), and the tightest AWS limit among those resources
 * (Lambda function, EventBridge rule: 64 characters).
 */
const RESOURCE_SUFFIX_LENGTH = 7;
const RESOURCE_NAME_LIMIT = 64;

const PARAM_REFERENCE = /\$\{param\.([^}]*)\}/g;

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

  checkGraph(sections, owner, report);
  checkParameters(value, report);
  checkLanguages(value, sections, report);

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
  walkStrings(value, [], (text, path) => {
    if (path[0] === 'tests') return;
    for (const match of text.matchAll(PARAM_REFERENCE)) {
      const parameter = match[1]!;
      if (!declared.has(parameter)) {
        const known = [...declared].join(', ') || 'none declared';
        report(path, 'undeclared-parameter', `\`\${param.${parameter}}\` refers to an undeclared parameter (parameters: ${known})`);
      }
    }
  });
}

function checkLanguages(value: Component, sections: Record<Section, [string, Component][]>, report: Report): void {
  const expression = (source: unknown, path: SpecPath, expect: 'bool' | 'any') => {
    if (typeof source !== 'string') return;
    for (const problem of checkExpression(source, { expect })) {
      const where = problem.offset === undefined ? '' : ` (at character ${problem.offset + 1})`;
      report(path, problem.code, `${problem.message}${where} in expression \`${source}\``);
    }
  };
  const template = (source: unknown, path: SpecPath) => {
    if (typeof source !== 'string') return;
    for (const problem of checkTemplate(source)) report(path, problem.code, `${problem.message} in template \`${source}\``);
  };

  const deadLetter = value.dead_letter as Component | undefined;
  if (deadLetter) template(deadLetter.prefix, ['dead_letter', 'prefix']);

  for (const [id, transform] of sections.transforms) {
    list(transform.steps).forEach((step, index) => {
      const path = ['transforms', id, 'steps', index];
      const { filter, set, template: templates, dedupe } = step as Component;
      if (filter !== undefined) expression(filter, [...path, 'filter'], 'bool');
      for (const [field, source] of entries(set)) expression(source, [...path, 'set', field], 'any');
      for (const [field, source] of entries(templates)) template(source, [...path, 'template', field]);
      if (dedupe) expression((dedupe as Component).key, [...path, 'dedupe', 'key'], 'any');
    });
  }
  for (const [id, sink] of sections.sinks) {
    const path = ['sinks', id];
    expression(sink.where, [...path, 'where'], 'bool');
    for (const field of ['key', 'index', 'id', 'routing']) template(sink[field], [...path, field]);
    for (const field of ['pre_sql', 'post_sql']) list(sink[field]).forEach((source, index) => template(source, [...path, field, index]));
  }
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

function entries(value: unknown): [string, Component][] {
  return value && typeof value === 'object' ? (Object.entries(value) as [string, Component][]) : [];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function walkStrings(value: unknown, path: SpecPath, visit: (text: string, path: SpecPath) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => walkStrings(item, [...path, index], visit));
  else if (value && typeof value === 'object') for (const [key, item] of Object.entries(value)) walkStrings(item, [...path, key], visit);
}
