/**
 * String literals for the few engine-made values that must appear in SQL text: S3 URLs of
 * manifests, IAM role ARNs, COPY format options, sink ids and batch numbers. Data API
 * transactions (`BatchExecuteStatement`) take no parameters, so these cannot be bound; record
 * values never come here (they travel in staged files and COPY, or as parameters).
 */

// Printable ASCII without the quote and the backslash: everything S3 keys made by Ingest, ARNs,
// date formats and ids consist of.
const SAFE_LITERAL = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

/** Whether `value` can be written as a literal by {@link quoteLiteral}. */
export function isSafeLiteral(value: string): boolean {
  return SAFE_LITERAL.test(value) && value.length <= 4096;
}

/**
 * `value` as a single-quoted SQL string literal. Throws a `TypeError` for a value holding a quote,
 * a backslash or a control or non-ASCII character, or longer than 4096 characters: such a value
 * is refused rather than escaped, since escaping rules differ between Redshift and PostgreSQL.
 */
export function quoteLiteral(value: string): string {
  if (!isSafeLiteral(value)) throw new TypeError(`value cannot be written as a SQL literal: ${JSON.stringify(value.slice(0, 80))}`);
  return `'${value}'`;
}
