import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { MISSING, parseFieldPaths, readField, writeField } from '../field-path.ts';

/** `keep: [fields]`: the only field paths the record keeps. */
export type KeepConfig = StepConfig<'keep'>;

/**
 * Replaces the record by a new object holding only the listed fields, at the same paths
 * (`keep: [user.id]` turns `{user: {id, name}, x}` into `{user: {id}}`). Listed fields that are
 * missing are simply absent from the result; an empty record comes out when none is present.
 * Field order follows the list.
 */
export const keepStep: StepPlugin<KeepConfig> = {
  kind: 'keep',
  compile(config) {
    const paths = parseFieldPaths(config);
    const count = paths.length;
    return (record) => {
      const kept: { [field: string]: unknown } = {};
      for (let index = 0; index < count; index++) {
        const path = paths[index]!;
        const value = readField(record, path);
        if (value !== MISSING) writeField(kept, path, value);
      }
      return kept;
    };
  },
};
