/**
 * One staged row of a warehouse sink (redshift, postgres): a record's `columns` and its source
 * identity, as the load's COPY reads it. Layout in
 * docs/decisions/0031-exactly-once-warehouse-loads.md, section 1:
 *
 * - JSON lines: `{"<column>": value, ..., "_ingest": [source, partition, position, sub-position,
 *   arrival, file]}`, the sink's columns in order (a missing field is `null`), the identity list
 *   last. The jsonpaths document (`jsonPathsDocument`) maps both onto the staging table.
 * - CSV: the columns, then the six identity values; no header (COPY reads every line as a row).
 *   A null is an unquoted empty field, an empty string a quoted one (`""`), as COPY CSV reads them.
 *
 * Values are written as the record holds them: a string, number or boolean as itself, an object
 * or list as JSON (what COPY's JSON reader gives a SUPER column, or a VARCHAR column the JSON text).
 * Converting them for the target's types is the spec's `cast`, never the sink's guess.
 */
import type { RecordValue } from '../pipeline/record.ts';
import { csvFormat } from './csv-format.ts';
import { encodeJsonLine } from './encode.ts';
import type { ObjectFormat, RecordEncoder } from './encode.ts';
import type { StagedIdentity } from './record-identity.ts';

/** The key of a staged JSON row that holds its identity, as in `engine/sinks/sql/load-transaction.ts` (`IDENTITY_FIELD`). */
export const STAGED_IDENTITY_FIELD = '_ingest';

/** The six hidden CSV fields after the columns, in `IDENTITY_COLUMNS` order. */
const IDENTITY_NAMES = ['_ingest_source', '_ingest_partition', '_ingest_position', '_ingest_sub_position', '_ingest_arrival', '_ingest_file'] as const;

/**
 * Encodes one record with its identity into the text of one staged row (newline included).
 * `file` is the id of the staged file the row joins ({@link stagedFileId} of its first record).
 * Throws a `TypeError` when a column's value has no JSON text (a `BigInt`, a cycle); nothing is
 * written then.
 */
export type StagedRowEncoder = (record: RecordValue, identity: StagedIdentity, file: string) => string;

/** How a warehouse sink lays out its staged files. */
export interface StagedRowFormat {
  /** `jsonl` or `csv`, the extension of the file names (before `.gz`). */
  readonly extension: 'jsonl' | 'csv';
  readonly contentType: string;
  /** Starts one file; returns the encoder of its rows. */
  begin(): StagedRowEncoder;
  /**
   * The text of `row` (as its encoder returned it, `file` being the id it was encoded with) moved
   * to another file: the file id is always the row's last value, so only that suffix changes.
   * Used when a staged file is rewritten with part of its rows (section 2 of the decision record).
   */
  moveRow(row: string, from: string, to: string): string;
}

/**
 * The id of a staged file: its first row's position and sub-position. Rows staged together carry
 * it in `_ingest_file`, so that the load records one loaded range per partition and file.
 */
export function stagedFileId(first: StagedIdentity): string {
  return first.position + first.subPosition;
}

/**
 * The staged row format of a sink with these `columns` (validated SQL identifiers, none starting
 * with `_ingest`). Throws a `RangeError` for a reserved column, which `validate` refuses.
 */
export function stagedRowFormat(format: 'jsonl' | 'csv', columns: readonly string[]): StagedRowFormat {
  const reserved = columns.find((column) => column.toLowerCase().startsWith(STAGED_IDENTITY_FIELD));
  if (reserved !== undefined) throw new RangeError(`column \`${reserved}\` starts with \`${STAGED_IDENTITY_FIELD}\`, which Ingest reserves for the staged source identity`);
  return format === 'csv' ? csvRows(columns) : jsonRows(columns);
}

function jsonRows(columns: readonly string[]): StagedRowFormat {
  return {
    extension: 'jsonl',
    contentType: 'application/x-ndjson',
    begin: () => (record, identity, file) => {
      // A null-prototype row: a column named `__proto__` stays an ordinary key.
      const row = columnValues(record, columns);
      row[STAGED_IDENTITY_FIELD] = identityValues(identity, file);
      return encodeJsonLine(row);
    },
    // The row ends with the identity list, whose last value is the file id: `,"<file>"]}\n`.
    moveRow: (row, from, to) => replaceSuffix(row, `,"${from}"]}\n`, `,"${to}"]}\n`),
  };
}

function csvRows(columns: readonly string[]): StagedRowFormat {
  // The shared CSV encoder without configured columns writes the keys of each object's first row,
  // in order, read as single keys (no dotted paths): every row here has the same keys. An empty
  // string is quoted, so that COPY tells it from a null (an unquoted empty field).
  const csv: ObjectFormat = csvFormat({ header: false, quoteEmpty: true });
  return {
    extension: 'csv',
    contentType: 'text/csv',
    begin(): StagedRowEncoder {
      const encode: RecordEncoder = csv.begin();
      return (record, identity, file) => {
        const row = columnValues(record, columns);
        const values = identityValues(identity, file);
        IDENTITY_NAMES.forEach((name, index) => {
          row[name] = values[index];
        });
        return encode(row);
      };
    },
    // File ids are digits, never quoted: the row ends with `,<file>\n`.
    moveRow: (row, from, to) => replaceSuffix(row, `,${from}\n`, `,${to}\n`),
  };
}

/** The record's value of each column (own fields only, so `constructor` is not `Object`), `null` when missing. */
function columnValues(record: RecordValue, columns: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = Object.create(null);
  for (const column of columns) {
    const value = Object.hasOwn(record, column) ? record[column] : undefined;
    row[column] = value === undefined ? null : value;
  }
  return row;
}

function identityValues(identity: StagedIdentity, file: string): (string | null)[] {
  return [identity.source, identity.partition, identity.position, identity.subPosition, identity.arrival, file];
}

function replaceSuffix(row: string, from: string, to: string): string {
  if (!row.endsWith(from)) throw new RangeError(`the staged row does not end with file id ${JSON.stringify(from)}`);
  return row.slice(0, row.length - from.length) + to;
}
