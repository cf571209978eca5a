import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { isPlainObject, leafOf, parentOf, parseFieldPath, writeField } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** `default: { field: literal }`: the value each field gets when it is missing or null. */
export type DefaultConfig = StepConfig<'default'>;

/**
 * Sets each listed field to its literal when the field is missing or `null`; any other value,
 * including `""`, `0` and `false`, is kept. Dotted paths create missing parent objects.
 * A list or object literal is copied for every record that receives it, so later steps may
 * mutate one record's value without touching another's.
 */
export const defaultStep: StepPlugin<DefaultConfig> = {
  kind: 'default',
  compile(config) {
    if (!isPlainObject(config)) throw new Error('default: expected a mapping of field → value');
    const paths: FieldPath[] = [];
    const literals: unknown[] = [];
    const structured: boolean[] = [];
    for (const [field, literal] of Object.entries(config)) {
      paths.push(parseFieldPath(field));
      literals.push(literal);
      structured.push(typeof literal === 'object' && literal !== null);
    }
    const count = paths.length;
    return (record) => {
      for (let index = 0; index < count; index++) {
        const path = paths[index]!;
        const parent = parentOf(record, path);
        if (parent !== undefined) {
          const current = Object.hasOwn(parent, leafOf(path)) ? parent[leafOf(path)] : undefined;
          if (current !== undefined && current !== null) continue;
        }
        const literal = literals[index];
        writeField(record, path, structured[index] ? structuredClone(literal) : literal);
      }
      return record;
    };
  },
};
