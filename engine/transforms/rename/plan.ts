/**
 * How a `rename` config reads, shared by the step (which compiles it) and its check (which
 * `ingest validate` runs), so that every config validate accepts compiles.
 */

/** A rename target in its long form: the new path, and whether it may replace a field that holds a value. */
export interface RenameTarget {
  readonly to: string;
  /** Replace a field that already holds a value at `to` [false: the record fails with `field-collision`]. */
  readonly overwrite?: boolean;
}

/** `rename: { old: new }` or `rename: { old: { to: new, overwrite: true } }`, per entry. */
export type RenameConfig = Readonly<Record<string, string | RenameTarget>>;

/** One entry, as written: the paths are not split yet. */
export interface RenameEntry {
  from: string;
  to: string;
  overwrite: boolean;
}

/** A problem of a whole config: its entries contradict each other. `key` is the entry to point at. */
export interface RenameProblem {
  key: string;
  message: string;
}

/** The entries of a config, in order. A value that is neither a string nor `{ to }` gives `to: ''`. */
export function renameEntries(config: RenameConfig): RenameEntry[] {
  return Object.keys(config).map((from) => {
    const target = config[from];
    if (typeof target === 'string') return { from, to: target, overwrite: false };
    const to = typeof target === 'object' && target !== null && typeof target.to === 'string' ? target.to : '';
    return { from, to, overwrite: target?.overwrite === true };
  });
}

/**
 * Entries that cannot run together, whatever the record: two targets that are the same field or
 * one inside the other (which value lands where would depend on the order of the entries), and
 * two sources one inside the other (the inner field would be moved twice).
 */
export function renameProblems(entries: readonly RenameEntry[]): RenameProblem[] {
  const problems: RenameProblem[] = [];
  for (let later = 0; later < entries.length; later++) {
    for (let earlier = 0; earlier < later; earlier++) {
      const a = entries[earlier]!;
      const b = entries[later]!;
      if (a.to === b.to) {
        problems.push({ key: b.from, message: `\`${a.from}\` and \`${b.from}\` are both renamed to \`${b.to}\`` });
      } else if (isWithin(a.to, b.to) || isWithin(b.to, a.to)) {
        problems.push({ key: b.from, message: `the targets \`${a.to}\` and \`${b.to}\` overlap: one is inside the other` });
      }
      if (isWithin(a.from, b.from) || isWithin(b.from, a.from)) {
        problems.push({ key: b.from, message: `the fields \`${a.from}\` and \`${b.from}\` overlap: one is inside the other, so it would be moved twice` });
      }
    }
  }
  return problems;
}

/** Whether dotted path `inner` is a field inside `outer` (`a.b` is within `a`; `a` is not within `a`). */
function isWithin(inner: string, outer: string): boolean {
  return inner.startsWith(`${outer}.`);
}
