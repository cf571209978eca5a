import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import schema from '../../ingest.schema.json' with { type: 'json' };
import type { ResolvedSpec } from './resolved-spec.ts';
import { substituteParameters } from './resolved-spec.ts';

const SIZE = /^(\d+(?:\.\d+)?)(B|KB|KiB|MB|MiB|GB|GiB)$/;
const UNITS: Record<string, number> = { B: 1, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };

let withDefaults: ValidateFunction | undefined;

/**
 * Resolves a spec that already passed validation: applies the schema's defaults, turns sizes
 * like `64MiB` into bytes, then substitutes `parameters` (see `substituteParameters`). Runs at
 * build time and in the CLI; the Lambda receives its result and never compiles the schema.
 * Never mutates `value`.
 */
export function resolveSpec(value: unknown, parameters: Readonly<Record<string, string>> = {}): ResolvedSpec {
  return substituteParameters(applyDefaults(value), parameters);
}

/** Defaults applied and sizes in bytes, parameters left as references: what `ingest package` ships. */
export function applyDefaults(value: unknown): ResolvedSpec {
  withDefaults ??= new Ajv2020({ useDefaults: true, discriminator: true, allowUnionTypes: true, strict: false, validateFormats: false }).compile(schema);
  const copy = structuredClone(value);
  withDefaults(copy);
  return sizesInBytes(copy, '') as ResolvedSpec;
}

function sizesInBytes(value: unknown, key: string): unknown {
  if (typeof value === 'string') {
    const size = key.endsWith('_bytes') ? SIZE.exec(value) : null;
    return size ? Math.floor(Number(size[1]) * UNITS[size[2]!]!) : value;
  }
  if (Array.isArray(value)) return value.map((item) => sizesInBytes(item, ''));
  if (value && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [field, item] of Object.entries(value)) result[field] = sizesInBytes(item, field);
    return result;
  }
  return value;
}
