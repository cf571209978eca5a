import { describe, expect, it } from 'vitest';
import schema from '../../../ingest.schema.json' with { type: 'json' };
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import { STEP_PLUGINS } from '../../../engine/plugin/registry.ts';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { checkSpec } from '../../../engine/spec/check.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { parseFieldPath } from '../../../engine/transforms/field-path.ts';

// Every position where a spec names a record field shares one definition of a field path
// (schemas/defs/identifier.json, field_path). The table below holds one spec per position; a
// test derives the positions from the composed schema, so a new field-path position without a
// row fails here instead of slipping through.

const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };
const PLACEHOLDER = '"PATH"';

interface Position {
  /** The schema location (JSON Pointer into ingest.schema.json) that types this position. */
  pointer: string;
  /** A step (YAML flow) or a sink, with PLACEHOLDER where the field path goes. */
  step?: string;
  sink?: string;
  /** The step kind compiled at run time for this position. */
  kind?: string;
  /** Whether the path is a mapping key (reported at the key) rather than a value. */
  key?: boolean;
}

const POSITIONS: Position[] = [
  { pointer: '/$defs/transforms.cast/propertyNames', step: `cast: { ${PLACEHOLDER}: int }`, kind: 'cast', key: true },
  { pointer: '/$defs/transforms.default/propertyNames', step: `default: { ${PLACEHOLDER}: 1 }`, kind: 'default', key: true },
  { pointer: '/$defs/transforms.drop', step: `drop: [${PLACEHOLDER}]`, kind: 'drop' },
  { pointer: '/$defs/defs.identifier.field_list/items', step: `keep: [a, ${PLACEHOLDER}]`, kind: 'keep' },
  { pointer: '/$defs/transforms.keep', step: `keep: [${PLACEHOLDER}]`, kind: 'keep' },
  { pointer: '/$defs/transforms.hash/properties/fields', step: `hash: { fields: [${PLACEHOLDER}] }`, kind: 'hash' },
  { pointer: '/$defs/transforms.explode', step: `explode: ${PLACEHOLDER}`, kind: 'explode' },
  { pointer: '/$defs/transforms.flatten/properties/field', step: `flatten: { field: ${PLACEHOLDER} }`, kind: 'flatten' },
  { pointer: '/$defs/transforms.parse_json', step: `parse_json: ${PLACEHOLDER}`, kind: 'parse_json' },
  { pointer: '/$defs/transforms.rename/propertyNames', step: `rename: { ${PLACEHOLDER}: b }`, kind: 'rename', key: true },
  { pointer: '/$defs/transforms.rename/additionalProperties/oneOf/0', step: `rename: { a: ${PLACEHOLDER} }`, kind: 'rename' },
  { pointer: '/$defs/transforms.rename/additionalProperties/oneOf/1/properties/to', step: `rename: { a: { to: ${PLACEHOLDER}, overwrite: true } }`, kind: 'rename' },
  { pointer: '/$defs/transforms.set/propertyNames', step: `set: { ${PLACEHOLDER}: "1" }`, kind: 'set', key: true },
  { pointer: '/$defs/transforms.template/propertyNames', step: `template: { ${PLACEHOLDER}: x }`, kind: 'template', key: true },
  { pointer: '/$defs/defs.csv.csv_output/properties/columns/items', sink: `{ type: s3, inputs: [clean], bucket: acme-archive, key: k/, format: csv, csv: { columns: [${PLACEHOLDER}] } }` },
];

/** Step kinds that name no record field: a filter, a dedupe key and a validate schema are not paths. */
const KINDS_WITHOUT_FIELD_PATHS = ['filter', 'dedupe', 'validate'];

const RESERVED = ['__proto__', 'constructor', 'prototype', 'a.__proto__', 'constructor.name', 'a.prototype.b'];
const ODD_BUT_LEGAL = ['__proto', 'proto__', 'Constructor', 'prototypes', '_constructor', '$ref', 'a b', 'ü.ñ', '0', 'toString', 'hasOwnProperty', '__defineGetter__'];

function specText(position: Position, path: string): string {
  const value = JSON.stringify(path);
  const step = position.step?.replace(PLACEHOLDER, value) ?? 'drop: [debug]';
  const sink = position.sink?.replace(PLACEHOLDER, value) ?? '{ type: s3, inputs: [clean], bucket: acme-archive, key: k/ }';
  return [
    'version: 1',
    'name: demo',
    'sources:',
    '  orders: { type: kinesis, stream: orders }',
    'transforms:',
    '  clean:',
    '    inputs: [orders]',
    '    steps:',
    `      - ${step}`,
    'sinks:',
    `  archive: ${sink}`,
    '',
  ].join('\n');
}

function validate(text: string): Diagnostic[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
  return validateLoadedSpec(loaded.spec, NO_FILES);
}

/** 1-based line and column of the quoted path in the spec text. */
function positionOf(text: string, path: string): { line: number; column: number } {
  const offset = text.indexOf(JSON.stringify(path), text.indexOf('steps:'));
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

/** JSON Pointers of every place in the composed schema that refers to the field path or field list definition. */
function fieldPathPointers(): string[] {
  const found: string[] = [];
  const visit = (node: unknown, pointer: string): void => {
    if (Array.isArray(node)) node.forEach((item, index) => visit(item, `${pointer}/${index}`));
    else if (node && typeof node === 'object') {
      const ref = (node as { $ref?: unknown }).$ref;
      if (ref === '#/$defs/defs.identifier.field_path' || ref === '#/$defs/defs.identifier.field_list') found.push(pointer);
      for (const [key, child] of Object.entries(node)) visit(child, `${pointer}/${key}`);
    }
  };
  visit(schema, '');
  return found.sort();
}

describe('field paths', () => {
  it('has a row for every position of the schema that names a record field', () => {
    const covered = new Set(POSITIONS.map((position) => position.pointer));

    expect(fieldPathPointers().filter((pointer) => !covered.has(pointer))).toEqual([]);
  });

  it('has a row for every step kind that names a record field', () => {
    const kinds = Object.keys(schema.$defs.step.properties).filter((kind) => !KINDS_WITHOUT_FIELD_PATHS.includes(kind));
    const covered = new Set(POSITIONS.map((position) => position.kind));

    expect(kinds.filter((kind) => !covered.has(kind))).toEqual([]);
  });

  describe.each(POSITIONS)('at $pointer', (position) => {
    it.each(RESERVED)('refuses %s as reserved-field-name where it is written', (path) => {
      const text = specText(position, path);

      const diagnostics = validate(text);

      expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
        `${positionOf(text, path).line}:${positionOf(text, path).column} reserved-field-name`,
      ]);
      expect(diagnostics[0]!.message).toContain(`\`${path}\``);
    });

    it.each(RESERVED)('refuses %s in the semantic checks too, where it is written', (path) => {
      const text = specText(position, path);
      const loaded = loadSpec('spec.yaml', Buffer.from(text));
      if (!loaded.ok) throw new Error('spec does not load');

      // The semantic checks on their own, as if the schema had let the path through.
      const diagnostics = checkSpec(loaded.spec, NO_FILES).filter((d) => d.code === 'reserved-field-name');

      expect(diagnostics.map((d) => `${d.line}:${d.column}`)).toEqual([`${positionOf(text, path).line}:${positionOf(text, path).column}`]);
    });

    it.each(['a..b', '.a', 'a.'])('refuses %s, which has an empty segment', (path) => {
      const diagnostics = validate(specText(position, path));

      expect(diagnostics.map((d) => d.code)).toEqual(['invalid-value']);
      expect(diagnostics[0]!.message).toContain('empty segment');
    });

    it.each(ODD_BUT_LEGAL)('accepts %s, and the runtime compiles it', (path) => {
      const text = specText(position, path);

      expect(validate(text)).toEqual([]);
      if (position.kind) {
        const step = (loadSpec('spec.yaml', Buffer.from(text)) as unknown as { spec: { value: { transforms: { clean: { steps: Record<string, unknown>[] } } } } }).spec.value.transforms.clean.steps[0]!;
        expect(() => STEP_PLUGINS.get(position.kind!)!.compile(step[position.kind!] as never, { files: NO_FILES, parameters: {} })).not.toThrow();
      }
    });
  });

  it.each([...RESERVED, ...ODD_BUT_LEGAL])('the runtime agrees with validation on %s', (path) => {
    const refusedByValidation = validate(specText(POSITIONS[2]!, path)).length > 0;

    expect(() => parseFieldPath(path)).toSatisfy((parse: () => unknown) => {
      try {
        parse();
        return !refusedByValidation;
      } catch {
        return refusedByValidation;
      }
    });
  });
});
