/**
 * `:name` parameters, as the Redshift Data API takes them, turned into PostgreSQL's `$1`, `$2`...
 * so that one statement text serves both warehouses.
 */

/** A statement with positional parameters, for `pg`. */
export interface PositionalStatement {
  text: string;
  values: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_]/;

/**
 * Replaces every `:name` outside string literals, quoted identifiers, dollar-quoted strings and
 * comments by `$n` (the same `n` for every use of one name), and lists the values in order. `::`
 * casts are left alone. Throws a `RangeError` naming a parameter the SQL uses and `parameters`
 * lacks; parameters the SQL does not use are ignored.
 */
export function toPositionalParameters(sql: string, parameters: Readonly<Record<string, string>> = {}): PositionalStatement {
  const positions = new Map<string, number>();
  const values: string[] = [];
  let text = '';
  let index = 0;
  while (index < sql.length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    let end = index + 1;
    if (char === "'" || char === '"') {
      end = closingQuote(sql, index, char);
    } else if (char === '-' && next === '-') {
      const newline = sql.indexOf('\n', index);
      end = newline < 0 ? sql.length : newline;
    } else if (char === '/' && next === '*') {
      const close = sql.indexOf('*/', index + 2);
      end = close < 0 ? sql.length : close + 2;
    } else if (char === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(index))?.[0];
      if (tag !== undefined) {
        const close = sql.indexOf(tag, index + tag.length);
        end = close < 0 ? sql.length : close + tag.length;
      }
    } else if (char === ':' && next === ':') {
      end = index + 2;
    } else if (char === ':' && next !== undefined && NAME_START.test(next) && sql[index - 1] !== ':') {
      end = index + 2;
      while (end < sql.length && NAME_PART.test(sql[end]!)) end++;
      const name = sql.slice(index + 1, end);
      if (!Object.hasOwn(parameters, name)) throw new RangeError(`the statement uses parameter :${name}, which was not given`);
      let position = positions.get(name);
      if (position === undefined) {
        values.push(parameters[name]!);
        position = values.length;
        positions.set(name, position);
      }
      text += `$${position}`;
      index = end;
      continue;
    }
    text += sql.slice(index, end);
    index = end;
  }
  return { text, values };
}

/** The index just past the quote that closes the one at `start`; a doubled quote is an escaped one. */
function closingQuote(sql: string, start: number, quote: string): number {
  let index = start + 1;
  while (index < sql.length) {
    if (sql[index] === quote) {
      if (sql[index + 1] === quote) index += 2;
      else return index + 1;
    } else {
      index++;
    }
  }
  return sql.length;
}
