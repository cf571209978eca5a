import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../engine/handler.ts';
import { kinesisEvent } from '../../../engine/local/events.ts';
import { RecordingObjectStore } from '../../../engine/local/recording-object-store.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { applyDefaults, resolveSpec } from '../../../engine/spec/resolve.ts';
import { substituteParameters } from '../../../engine/spec/resolved-spec.ts';
import { STEP_KINDS } from '../../../engine/spec/spec-types.ts';
import type { StepKind } from '../../../engine/spec/spec-types.ts';

// A key named `__proto__` is data wherever a user can write one: in spec maps, in test records, in
// decoded records. Copied into `{}` by assignment, it becomes the copy's prototype instead: the key
// vanishes and its fields are inherited by the copy. These tests send such keys through every
// place that copies a map (resolution, parameter substitution) and through every step kind to a
// real sink's serialization.

/** A spec as YAML gives it: `__proto__` keys are own properties, as `yaml` and `JSON.parse` make them. */
function specValue(yaml: string): Record<string, unknown> {
  const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return loaded.spec.value;
}

const SPEC_WITH_PROTO_KEYS = `
version: 1
name: proto
parameters:
  bucket: { type: string, default: out }
sources:
  orders:
    type: kinesis
    stream: orders
    filter:
      - { data: { __proto__: { admin: [true] } } }
transforms:
  clean:
    inputs: [orders]
    steps:
      - rename: { __proto__: renamed }
      - default: { extra: { __proto__: { admin: true }, kept: 1 } }
sinks:
  out: { type: s3, inputs: [clean], bucket: "\${param.bucket}", key: "x/" }
tests:
  - name: a record with a __proto__ field
    given:
      orders:
        - { __proto__: { admin: true }, id: 1 }
    expect:
      out:
        - { __proto__: { admin: true }, id: 1 }
`;

/** Whether `map` holds `key` as its own data, not as a prototype whose fields it would inherit. */
function holdsAsData(map: unknown, key: string): boolean {
  const object = map as Record<string, unknown>;
  return Object.hasOwn(object, key) && object.admin === undefined;
}

describe('spec maps with a __proto__ key', () => {
  const resolved = applyDefaults(specValue(SPEC_WITH_PROTO_KEYS));
  const steps = resolved.transforms!.clean!.steps as unknown as Record<string, Record<string, unknown>>[];

  it.each([
    ['a step config (rename)', () => steps[0]!.rename],
    ['a literal of a default step', () => (steps[1]!.default!.extra as Record<string, unknown>)],
    ['a Kinesis filter pattern', () => ((resolved.sources.orders as { filter: Record<string, unknown>[] }).filter[0]!.data)],
    ['a given test record', () => (resolved.tests![0]!.given.orders as Record<string, unknown>[])[0]],
    ['an expected test record', () => resolved.tests![0]!.expect!.out![0]],
  ])('keeps the key as data when resolving %s', (_, map) => {
    expect(holdsAsData(map(), '__proto__')).toBe(true);
  });

  it('keeps the key as data when substituting parameters', () => {
    const substituted = substituteParameters(resolved, {});

    expect(holdsAsData((substituted.sources.orders as { filter: Record<string, unknown>[] }).filter[0]!.data, '__proto__')).toBe(true);
    expect((substituted.sinks.out as { bucket: string }).bucket).toBe('out');
  });

  it('gives the spec maps no prototype, so no inherited member reads as a key', () => {
    expect(Object.getPrototypeOf(resolved.sinks)).toBeNull();
    expect(Object.getPrototypeOf(steps[0]!.rename)).toBeNull();
    expect('toString' in (steps[0]!.rename as object)).toBe(false);
  });

  it('gives test records the form of decoded records, so they compare equal to what a sink receives', () => {
    const given = (resolved.tests![0]!.given.orders as Record<string, unknown>[])[0]!;

    expect(given).toStrictEqual(JSON.parse('{"__proto__": {"admin": true}, "id": 1}'));
  });

  it('leaves Object.prototype alone', () => {
    resolveSpec(specValue(SPEC_WITH_PROTO_KEYS));

    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses to compile a step whose map names the field __proto__, rather than ignoring the entry', () => {
    expect(() => createHandler(resolved, { ports: { objects: new MemoryObjectStore() }, files: { exists: () => false, read: () => undefined }, write: () => {} })).toThrow(/__proto__/);
  });
});

const RECORD = '{"__proto__": {"admin": true}, "id": 1, "items": [1, 2], "payload": "{\\"__proto__\\": {\\"admin\\": true}}"}';

type Written = Record<string, unknown>;
/** The record as decoded, changed by `change` (which must not assign `__proto__`). */
function decoded(change: (record: Written) => void = () => {}): Written {
  const record = JSON.parse(RECORD) as Written;
  change(record);
  return record;
}

/** Each step kind configured so that the record passes, and the records the sink then holds. */
const STEP_CASES: Record<StepKind, { step: string; expected: () => Written[] }> = {
  filter: { step: `filter: "!has(record.admin)"`, expected: () => [decoded()] },
  set: { step: `set: { inherited: "has(record.admin)" }`, expected: () => [decoded((r) => (r.inherited = false))] },
  template: { step: `template: { label: "#{{record.id}}" }`, expected: () => [decoded((r) => (r.label = "#1"))] },
  rename: { step: `rename: { id: identifier }`, expected: () => [decoded((r) => { delete r.id; r.identifier = 1; })] },
  drop: { step: `drop: [id]`, expected: () => [decoded((r) => delete r.id)] },
  keep: { step: `keep: [id]`, expected: () => [{ id: 1 }] },
  default: { step: `default: { extra: { __proto__: { admin: true } } }`, expected: () => [decoded((r) => (r.extra = JSON.parse('{"__proto__": {"admin": true}}')))] },
  cast: { step: `cast: { id: string }`, expected: () => [decoded((r) => (r.id = '1'))] },
  parse_json: { step: `parse_json: payload`, expected: () => [decoded((r) => (r.payload = JSON.parse(r.payload as string)))] },
  flatten: { step: `flatten: {}`, expected: () => [{ __proto___admin: true, id: 1, items: [1, 2], payload: decoded().payload }] },
  explode: { step: `explode: items`, expected: () => [decoded((r) => (r.items = 1)), decoded((r) => (r.items = 2))] },
  validate: { step: `validate: { schema: record.schema.json }`, expected: () => [decoded()] },
  dedupe: { step: `dedupe: { key: "record.id" }`, expected: () => [decoded()] },
  hash: { step: `hash: { fields: [id] }`, expected: () => [decoded((r) => (r.id = createHash('sha256').update('1').digest('hex')))] },
};

async function runThroughSink(step: string): Promise<Record<string, unknown>[]> {
  const spec = resolveSpec(specValue(`
version: 1
name: proto
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  step:
    inputs: [orders]
    steps:
      - ${step}
sinks:
  out: { type: s3, inputs: [step], bucket: out, key: "records/", compression: none }
`));
  const memory = new MemoryObjectStore();
  const store = new RecordingObjectStore(memory);
  const files = new Map([['record.schema.json', '{"type": "object", "required": ["id"]}']]);
  const handler = createHandler(spec, { ports: { objects: store }, files: { exists: (path) => files.has(path), read: (path) => files.get(path) }, write: () => {} });

  const summary = await handler.invoke(kinesisEvent('orders', [Buffer.from(RECORD)]));

  expect(summary.counts.dead_lettered + summary.counts.failed).toBe(0);
  const lines = store.written.filter(({ bucket }) => bucket === 'out').flatMap(({ bucket, key }) => Buffer.from(memory.object(bucket, key)!.body).toString('utf8').trim().split('\n'));
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a record with a __proto__ field', () => {
  it('has a case for every step kind', () => {
    expect(Object.keys(STEP_CASES).sort()).toEqual([...STEP_KINDS].sort());
  });

  it.each(Object.entries(STEP_CASES))('stays ordinary data from decoding through a %s step to the S3 sink', async (_, { step, expected }) => {
    const written = await runThroughSink(step);

    expect(written).toStrictEqual(expected());
    for (const record of written) expect(Object.hasOwn(record, 'admin')).toBe(false);
  });
});
