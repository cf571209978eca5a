import type { StepPlugin } from '../../plugin/types.ts';
import { RecordError } from '../../plugin/types.ts';
import { describeType, leafOf, parentOf, parseFieldPath, previewValue } from '../field-path.ts';

/** `parse_json: field`: the path of a field holding JSON text. */
export type ParseJsonConfig = string;

/**
 * Replaces a field's JSON text by the value it encodes (any JSON value: object, list, string,
 * number, boolean, null). A missing field and `null` are left alone. Fails the record with
 * `invalid-json` when the text is not JSON, and with `transform-error` when the field holds
 * something other than a string (an object already parsed, a number). The inverse of
 * `cast: { field: json }`. Keys such as `__proto__` in the text become plain own properties
 * (`JSON.parse` never assigns prototypes).
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
      try {
        parent[leaf] = JSON.parse(text);
      } catch (error) {
        throw new RecordError('invalid-json', `field \`${path.text}\` is not valid JSON (${(error as Error).message}): ${previewValue(text)}`, { cause: error });
      }
      return record;
    };
  },
};
