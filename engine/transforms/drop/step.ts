import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { deleteField, parseFieldPaths } from '../field-path.ts';

/** `drop: [fields]`: field paths to remove. */
export type DropConfig = StepConfig<'drop'>;

/** Removes each listed field (dotted paths reach into nested objects). Missing fields are ignored. */
export const dropStep: StepPlugin<DropConfig> = {
  kind: 'drop',
  compile(config) {
    const paths = parseFieldPaths(config);
    const count = paths.length;
    return (record) => {
      for (let index = 0; index < count; index++) deleteField(record, paths[index]!);
      return record;
    };
  },
};
