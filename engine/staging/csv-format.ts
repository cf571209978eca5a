/**
 * CSV objects, apart from encode.ts so that a function bundle whose spec writes none leaves
 * csv-stringify out (docs/decisions/0058-smaller-cold-start.md).
 */
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { Options as CsvStringifyOptions } from 'csv-stringify/sync';
import type { RecordValue } from '../pipeline/record.ts';
import { MISSING, parseFieldPath, readField } from '../transforms/field-path.ts';
import type { FieldPath } from '../transforms/field-path.ts';
import type { ObjectFormat, RecordEncoder } from './encode.ts';

/** CSV output options, as in the spec's `csv` block of an S3 sink (defaults applied here). */
export interface CsvOutputOptions {
  /**
   * Record fields written as columns, in order; dots reach into nested objects. Without them,
   * each object's columns are the top-level keys of its first record.
   */
  columns?: readonly string[];
  /** Whether each object starts with a line naming the columns [true]. */
  header?: boolean;
  /** The character between fields [`,`]. */
  delimiter?: string;
  /**
   * Whether an empty string is written quoted (`""`) [false]. Readers that take an unquoted empty
   * field for NULL (COPY CSV) then keep the two apart; a null or missing value stays unquoted.
   */
  quoteEmpty?: boolean;
}

// Values csv-stringify would otherwise write its own way: booleans as `1`/empty, dates as epoch
// milliseconds. Nested objects and lists are written as JSON text (its default for objects).
const CSV_CAST: NonNullable<CsvStringifyOptions['cast']> = {
  boolean: (value) => (value ? 'true' : 'false'),
  date: (value) => value.toISOString(),
  object: (value) => JSON.stringify(value),
};

/**
 * CSV (`text/csv`, RFC 4180 quoting by csv-stringify). Missing fields are written as empty
 * values, nested objects and lists as JSON text, booleans as `true`/`false`. Throws when
 * `columns` holds an invalid field path.
 */
export function csvFormat(options: CsvOutputOptions = {}): ObjectFormat {
  const header = options.header ?? true;
  const delimiter = options.delimiter ?? ',';
  const configured = options.columns?.map(parseFieldPath);
  const rowOptions: CsvStringifyOptions = { delimiter, cast: CSV_CAST, header: false, eof: true, ...(options.quoteEmpty ? { quoted_match: /^$/ } : {}) };
  return {
    extension: 'csv',
    contentType: 'text/csv',
    begin(): RecordEncoder {
      let columns = configured;
      let started = false;
      return (record) => {
        // Without configured columns, the object's first record names them. A key is one column
        // even when it holds a dot, so every key of that record is written back exactly.
        const objectColumns = columns ?? Object.keys(record).map((key) => ({ text: key, segments: [key] }));
        const row = stringifyCsv([csvRow(record, objectColumns)], rowOptions);
        if (started) return row;
        const text = header ? stringifyCsv([objectColumns.map((column) => column.text)], rowOptions) + row : row;
        // Only a record that encoded fixes the object's columns and header.
        columns = objectColumns;
        started = true;
        return text;
      };
    },
  };
}

function csvRow(record: RecordValue, columns: readonly FieldPath[]): unknown[] {
  const row = new Array<unknown>(columns.length);
  for (let index = 0; index < columns.length; index++) {
    const value = readField(record, columns[index]!);
    row[index] = value === MISSING ? undefined : value;
  }
  return row;
}
