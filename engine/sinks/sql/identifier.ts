/** Dialect limits of unquoted-style identifiers: Redshift allows 127 bytes, PostgreSQL 63. */
export type SqlDialect = 'redshift' | 'postgres';

const MAX_LENGTH: Record<SqlDialect, number> = { redshift: 127, postgres: 63 };
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * Whether `name` is an identifier Ingest accepts for a schema, table or column. Ingest always
 * quotes identifiers in generated SQL; restricting them to this shape as well keeps every
 * statement readable and rules out injection through names.
 */
export function isValidIdentifier(name: string, dialect: SqlDialect): boolean {
  return IDENTIFIER.test(name) && Buffer.byteLength(name) <= MAX_LENGTH[dialect];
}

/** Quotes a validated identifier for SQL; throws on a name `isValidIdentifier` rejects. */
export function quoteIdentifier(name: string, dialect: SqlDialect): string {
  if (!isValidIdentifier(name, dialect)) throw new TypeError(`invalid SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export function identifierRule(dialect: SqlDialect): string {
  return `letters, digits, _ and $, starting with a letter or _, at most ${MAX_LENGTH[dialect]} bytes`;
}

/**
 * Quotes `table` or `schema.table`, each part validated as by {@link quoteIdentifier}. Throws a
 * `TypeError` for more than two parts or an invalid part.
 */
export function quoteQualifiedName(name: string, dialect: SqlDialect): string {
  const parts = name.split('.');
  if (parts.length > 2) throw new TypeError(`invalid SQL table name: ${JSON.stringify(name)}`);
  return parts.map((part) => quoteIdentifier(part, dialect)).join('.');
}
