/**
 * DynamoDB numbers (`N`, `NS`) as record values. Decided in docs/decisions/0005-dynamodb-numbers.md:
 * a number becomes a JavaScript number only when nothing is lost; otherwise it stays the exact
 * decimal string DynamoDB sent.
 */

const DYNAMODB_NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** True when `text` is a decimal number as DynamoDB writes them (`-12`, `0.5`, `1E+3`). */
export function isDynamoDbNumber(text: string): boolean {
  return DYNAMODB_NUMBER.test(text);
}

/**
 * Returns a JavaScript number when its magnitude is at most 2^53 − 1 and the double's shortest
 * decimal form denotes exactly the value of `text` (`"0.1"` → 0.1, `"123"` → 123); otherwise
 * `text` unchanged (`"12345678901234567890"`, `"0.12345678901234567890123"`).
 * Throws when `text` is not a decimal number; callers check with `isDynamoDbNumber` first.
 */
export function convertDynamoDbNumber(text: string): number | string {
  if (!isDynamoDbNumber(text)) throw new Error(`${JSON.stringify(text)} is not a number`);
  const number = Number(text);
  if (Math.abs(number) > Number.MAX_SAFE_INTEGER) return text;
  if (canonicalDecimal(text) !== canonicalDecimal(String(number))) return text;
  // -0 serialises as 0 anyway; returning 0 keeps equality checks in tests and CEL simple.
  return number === 0 ? 0 : number;
}

/**
 * A decimal's value in one spelling: sign, significant digits without leading or trailing
 * zeros, and a power of ten (`"-001.2300e1"` → `"-123e-1"`, `"1.2e-7"` → `"12e-8"`).
 * Accepts the forms `isDynamoDbNumber` accepts and those `String(number)` produces.
 */
function canonicalDecimal(text: string): string {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (match === null) return text;
  const [, sign = '', integerPart = '', fractionPart = '', exponentPart = '0'] = match;
  const allDigits = (integerPart + fractionPart).replace(/^0+/, '');
  if (allDigits === '') return '0';
  const significant = allDigits.replace(/0+$/, '');
  const exponent = BigInt(exponentPart) - BigInt(fractionPart.length) + BigInt(allDigits.length - significant.length);
  return `${sign === '-' ? '-' : ''}${significant}e${exponent}`;
}
