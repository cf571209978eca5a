/**
 * The CamelCase form that spec ids take in CloudFormation logical ids (`clicks_raw` →
 * `ClicksRaw`; docs/decisions/0041-logical-ids.md). It lives here, not in the generator, so that
 * `ingest validate` can refuse two ids that would meet in one logical id (`x_1` and `x1`) before
 * `ingest generate` does.
 */

/** `clicks_clean` → `ClicksClean`: each run of letters and digits, first letter upper-cased, separators dropped. */
export function logicalIdOf(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
