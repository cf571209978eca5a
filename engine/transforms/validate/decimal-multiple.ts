/**
 * JSON Schema's `multipleOf`, judged on the decimals a person reads rather than on binary
 * doubles. ajv divides (`0.07 / 0.01` is 7.000000000000001) and so rejects 0.07, 0.29 and 19.99
 * as multiples of 0.01; its `multipleOfPrecision` option only moves the error to large
 * quotients. Decided in docs/decisions/0022-json-record-values.md.
 */
import type { CodeKeywordDefinition, KeywordCxt } from 'ajv';
import { _, str } from 'ajv';
import { _Code } from 'ajv/dist/compile/codegen/code.js';

/**
 * Whether `value` is an integer multiple of `divisor`, both read as the shortest decimal that
 * denotes them (what `String(n)` prints, which is what the JSON text said for any number a double
 * holds): `isDecimalMultiple(19.99, 0.01)` is true, `isDecimalMultiple(0.30000000000000004, 0.01)`
 * false. False for a divisor that is not positive and finite, and for a non-finite value.
 *
 * The function is self-contained (no closures, no inner functions): its source text is emitted
 * as is into the standalone validators that `ingest package` ships.
 */
export function isDecimalMultiple(value: number, divisor: number): boolean {
  if (!(divisor > 0) || !Number.isFinite(divisor) || !Number.isFinite(value)) return false;
  if (Number.isSafeInteger(value) && Number.isSafeInteger(divisor)) return value % divisor === 0;
  const texts = [String(Math.abs(value)), String(divisor)];
  const digits = ['', ''];
  const exponents = [0, 0];
  for (let index = 0; index < 2; index++) {
    let text = texts[index]!;
    let exponent = 0;
    const e = text.indexOf('e');
    if (e >= 0) {
      exponent = Number(text.slice(e + 1));
      text = text.slice(0, e);
    }
    const dot = text.indexOf('.');
    if (dot >= 0) {
      exponent -= text.length - dot - 1;
      text = text.slice(0, dot) + text.slice(dot + 1);
    }
    digits[index] = text;
    exponents[index] = exponent;
  }
  const shift = Math.min(exponents[0]!, exponents[1]!);
  const ten = BigInt(10);
  const scaledValue = BigInt(digits[0]!) * ten ** BigInt(exponents[0]! - shift);
  const scaledDivisor = BigInt(digits[1]!) * ten ** BigInt(exponents[1]! - shift);
  return scaledValue % scaledDivisor === BigInt(0);
}

/**
 * `multipleOf` for ajv, replacing its own (`ajv.removeKeyword('multipleOf')` first). Errors
 * keep ajv's keyword, message and params, so messages and error paths do not change.
 */
export const decimalMultipleOf: CodeKeywordDefinition = {
  keyword: 'multipleOf',
  type: 'number',
  schemaType: 'number',
  $data: true,
  error: {
    message: ({ schemaCode }) => str`must be multiple of ${schemaCode}`,
    params: ({ schemaCode }) => _`{multipleOf: ${schemaCode}}`,
  },
  code(cxt: KeywordCxt) {
    const { gen, data, schemaCode } = cxt;
    const check = gen.scopeValue('func', { ref: isDecimalMultiple, code: new _Code(`(${isDecimalMultiple.toString()})`) });
    cxt.fail$data(_`!${check}(${data}, ${schemaCode})`);
  },
};
