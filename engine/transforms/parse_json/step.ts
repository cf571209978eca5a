import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { DEFAULT_MAX_DEPTH, parseJsonValue } from '../../sources/parse-json-record.ts';
import { describeType, leafOf, parentOf, parseFieldPath, previewValue } from '../field-path.ts';

/** `parse_json: field`: the path of a field holding JSON text. */
export type ParseJsonConfig = StepConfig<'parse_json'>;

/**
 * Replaces a field's JSON text by the value it encodes (any JSON value: object, list, string,
 * number, boolean, null), in place: the field's value is the text it parses, so writing over it
 * is the step's purpose (docs/decisions/0024-field-writes.md). The text is read as sources read
 * JSON records (docs/decisions/0022-json-record-values.md): integers beyond 2^53 stay exact
 * strings; fractions and exponents read as doubles. A missing field and `null` are left
 * alone. Fails the record with `invalid-json` when the text is not JSON, `too-deep` when it nests
 * deeper than 256 levels, `non-finite-number` for a number beyond the double range (`1e400`),
 * and `transform-error` when the field holds something other than a string (an object already
 * parsed, a number). The inverse of `cast: { field: json }`. Keys such as `__proto__` in the
 * text become plain own properties.
 */
export const parseJsonStep: StepPlugin<ParseJsonConfig> = {
  kind: 'parse_json',
  compile(config) {
    const path = parseFieldPath(config);
    const leaf = leafOf(path);
    return (record) => {
      const parent = parentOf(record, path);
      if (parent === undefined || !Object.hasOwn(parent, leaf)) return record;
      const text = parent[leaf];
      if (text === null) return record;
      if (typeof text !== 'string') {
        throw new RecordError('transform-error', `field \`${path.text}\` holds ${describeType(text)}, not JSON text`);
      }
      const parsed = parseJsonValue(text, DEFAULT_MAX_DEPTH);
      if (!parsed.ok) {
        const reason = parsed.code === 'invalid-json' ? 'is not valid JSON' : 'cannot be parsed into the record';
        throw new RecordError(parsed.code, `field \`${path.text}\` ${reason} (${parsed.message}): ${previewValue(text)}`);
      }
      parent[leaf] = parsed.value;
      return record;
    };
  },
};
