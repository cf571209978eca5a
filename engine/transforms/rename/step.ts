import type { StepPlugin } from '../../plugin/types.ts';
import { deleteField, MISSING, parseFieldPath, readField, writeField } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** `rename: { old: new }`: each key is a field path to move, each value the path to move it to. */
export type RenameConfig = Readonly<Record<string, string>>;

/**
 * Moves fields. Dotted paths are allowed on both sides; the target's missing parents are created.
 *
 * - All renames of one step happen at once: every source is read, then every source is removed,
 *   then every target is written. So `{ a: b, b: a }` swaps two fields and the order of the
 *   entries never matters.
 * - A source field that is missing is a no-op for that entry: the target is left as it was.
 *   (A source holding `null` is present and moves.)
 * - A target that already exists is overwritten.
 * - Two entries with the same target are refused when the step compiles (which one wins would be
 *   ambiguous).
 */
export const renameStep: StepPlugin<RenameConfig> = {
  kind: 'rename',
  compile(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new Error('rename: expected a mapping of old field → new field');
    }
    const sources: FieldPath[] = [];
    const targets: FieldPath[] = [];
    const seenTargets = new Set<string>();
    for (const [source, target] of Object.entries(config)) {
      if (seenTargets.has(target)) throw new Error(`rename: two fields are renamed to \`${target}\``);
      seenTargets.add(target);
      sources.push(parseFieldPath(source));
      targets.push(parseFieldPath(target));
    }
    const count = sources.length;
    // Reused by every record: steps run synchronously, one record at a time.
    const values: unknown[] = new Array(count).fill(MISSING);

    return (record) => {
      for (let index = 0; index < count; index++) values[index] = readField(record, sources[index]!);
      for (let index = 0; index < count; index++) {
        if (values[index] !== MISSING) deleteField(record, sources[index]!);
      }
      for (let index = 0; index < count; index++) {
        const value = values[index];
        if (value === MISSING) continue;
        values[index] = MISSING;
        writeField(record, targets[index]!, value);
      }
      return record;
    };
  },
};
