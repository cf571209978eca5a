import type { StepPlugin } from '../../plugin/types.ts';
import type { RecordValue } from '../../pipeline/record.ts';
import { RecordError } from '../../plugin/types.ts';
import { deleteField, isPlainObject, MISSING, parseFieldPath, readField, writeField } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';
import { renameEntries, renameProblems, type RenameConfig } from './plan.ts';

export type { RenameConfig, RenameTarget } from './plan.ts';

/**
 * Moves fields. Dotted paths are allowed on both sides; the target's missing parents are created.
 *
 * - All renames of one step happen at once: every source is read, then every source is removed,
 *   then every target is written. So `{ a: b, b: a }` swaps two fields and the order of the
 *   entries never matters.
 * - A source field that is missing is a no-op for that entry: the target is left as it was.
 *   (A source holding `null` is present and moves.)
 * - A target that still holds a value once the step's sources are removed is a collision: the
 *   record fails with `field-collision` and is left unchanged, since moving a field must not
 *   silently destroy another (docs/decisions/0024-field-writes.md). `{ to: b, overwrite: true }`
 *   allows replacing it. An object that only held fields the step moves out counts as empty.
 * - Two entries with the same target, targets one inside the other, and sources one inside the
 *   other are refused when the step compiles (`ingest validate` reports them first).
 */
export const renameStep: StepPlugin<RenameConfig> = {
  kind: 'rename',
  compile(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new Error('rename: expected a mapping of old field → new field');
    }
    const entries = renameEntries(config);
    const [problem] = renameProblems(entries);
    if (problem !== undefined) throw new Error(`rename: ${problem.message}`);
    const sources: FieldPath[] = entries.map((entry) => parseFieldPath(entry.from));
    const targets: FieldPath[] = entries.map((entry) => parseFieldPath(entry.to));
    const overwrite: boolean[] = entries.map((entry) => entry.overwrite);
    const count = sources.length;
    // Reused by every record: steps run synchronously, one record at a time.
    const values: unknown[] = new Array(count).fill(MISSING);

    return (record) => {
      for (let index = 0; index < count; index++) values[index] = readField(record, sources[index]!);
      try {
        for (let index = 0; index < count; index++) {
          if (values[index] === MISSING || overwrite[index]) continue;
          if (holdsValueAfterMoves(record, targets[index]!, sources, values)) {
            throw new RecordError(
              'field-collision',
              `cannot rename \`${sources[index]!.text}\` to \`${targets[index]!.text}\`: \`${targets[index]!.text}\` already holds a value (give \`{ to: ${targets[index]!.text}, overwrite: true }\` to replace it)`,
            );
          }
        }
        for (let index = 0; index < count; index++) {
          if (values[index] !== MISSING) deleteField(record, sources[index]!);
        }
        for (let index = 0; index < count; index++) {
          const value = values[index];
          if (value !== MISSING) writeField(record, targets[index]!, value);
        }
      } finally {
        values.fill(MISSING);
      }
      return record;
    };
  },
};

/**
 * Whether `target` will still hold a value once the present sources are removed: it holds one
 * now, no moved source is the target or contains it, and, when the target is an object that
 * sources are moved out of, something of it stays.
 */
function holdsValueAfterMoves(record: RecordValue, target: FieldPath, sources: readonly FieldPath[], values: readonly unknown[]): boolean {
  const current = readField(record, target);
  if (current === MISSING) return false;
  const depth = target.segments.length;
  let movedChildren: Set<string> | undefined;
  for (let index = 0; index < sources.length; index++) {
    if (values[index] === MISSING) continue;
    const source = sources[index]!.segments;
    if (!startsWith(source, target.segments)) {
      if (startsWith(target.segments, source)) return false; // the target goes away with its source
      continue;
    }
    if (source.length === depth) return false; // the target itself is moved away
    if (source.length === depth + 1) (movedChildren ??= new Set()).add(source[depth]!);
  }
  if (movedChildren === undefined || !isPlainObject(current)) return true;
  for (const key of Object.keys(current)) if (!movedChildren.has(key)) return true;
  return false;
}

/** Whether `path` begins with every segment of `prefix`. */
function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  if (path.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (path[index] !== prefix[index]) return false;
  return true;
}
