import { convertToNative } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import type { RecordValue } from '../../pipeline/record.ts';
import { convertDynamoDbNumber, isDynamoDbNumber } from './convert-number.ts';

/** An AttributeValue that cannot become a record value; `path` names it, e.g. `NewImage.prices[2]`. */
export class InvalidAttributeValueError extends Error {
  override name = 'InvalidAttributeValueError';
  readonly code = 'invalid-attribute-value';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

/**
 * Unmarshalls a DynamoDB image (`Keys`, `NewImage`, `OldImage`: attribute name → AttributeValue)
 * into a record. `path` prefixes error paths. Throws `InvalidAttributeValueError` and nothing else.
 *
 * Scalars and sets are converted by @aws-sdk/util-dynamodb's `convertToNative`; this function
 * checks each AttributeValue's shape first (util-dynamodb coerces silently, e.g. `{BOOL: "no"}`
 * to true) and walks maps and lists itself so that an attribute named `__proto__` stays an
 * ordinary field (util-dynamodb assigns map entries, which would set the prototype instead).
 * Numbers follow `convertDynamoDbNumber`; binary values stay the base64 strings Lambda delivers
 * (Uint8Array input is encoded to base64).
 *
 * Sets (SS, NS, BS) have no order, and streams list their elements in any order: they become
 * arrays sorted one way (strings and base64 by UTF-16 code units, numbers by value), so the same
 * set always gives the same record, digest (`hash`), dedupe key and output. When `sets` is given,
 * the record path of each set (`tags`, `profile.roles`, `lists[2]`, under `sets.prefix`) is
 * appended to `sets.paths`, so a record can still tell a set from a list.
 */
export function unmarshallImage(image: unknown, path: string, sets?: SetPaths): RecordValue {
  if (!isPlainObject(image)) throw new InvalidAttributeValueError(path, 'is not a map of attributes');
  return mapToNative(image, path, sets?.prefix ?? '', sets?.paths);
}

/** Where `unmarshallImage` reports the sets it met: paths relative to the record, after `prefix`. */
export interface SetPaths {
  prefix: string;
  paths: string[];
}

function mapToNative(map: Record<string, unknown>, path: string, recordPath: string, sets: string[] | undefined): RecordValue {
  const result: RecordValue = {};
  for (const [name, attribute] of Object.entries(map)) {
    Object.defineProperty(result, name, {
      value: toNative(attribute, `${path}.${name}`, recordPath === '' ? name : `${recordPath}.${name}`, sets),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

function toNative(attribute: unknown, path: string, recordPath: string, sets: string[] | undefined): unknown {
  if (!isPlainObject(attribute)) throw new InvalidAttributeValueError(path, 'is not an AttributeValue object');
  // Some serialisers (Go's aws-lambda-go, for one) write every member with null but the one set.
  const members = Object.entries(attribute).filter(([, value]) => value !== null && value !== undefined);
  const [member, ...others] = members;
  if (member === undefined) throw new InvalidAttributeValueError(path, 'has no type (S, N, B, BOOL, NULL, L, M, SS, NS, BS)');
  if (others.length > 0) {
    throw new InvalidAttributeValueError(path, `has several types (${members.map(([type]) => type).join(', ')})`);
  }
  const [type, value] = member;
  switch (type) {
    case 'M':
      if (!isPlainObject(value)) throw new InvalidAttributeValueError(path, 'has M that is not an object');
      return mapToNative(value, path, recordPath, sets);
    case 'L':
      if (!Array.isArray(value)) throw new InvalidAttributeValueError(path, 'has L that is not a list');
      return value.map((item, index) => toNative(item, `${path}[${index}]`, `${recordPath}[${index}]`, sets));
    case 'S':
      if (typeof value !== 'string') throw new InvalidAttributeValueError(path, 'has S that is not a string');
      break;
    case 'N':
      if (typeof value !== 'string' || !isDynamoDbNumber(value)) throw new InvalidAttributeValueError(path, `has N ${JSON.stringify(value)} that is not a number`);
      break;
    case 'B':
      if (!isBinary(value)) throw new InvalidAttributeValueError(path, 'has B that is not base64');
      break;
    case 'BOOL':
      if (typeof value !== 'boolean') throw new InvalidAttributeValueError(path, 'has BOOL that is not true or false');
      break;
    case 'NULL':
      if (value !== true) throw new InvalidAttributeValueError(path, 'has NULL that is not true');
      break;
    case 'SS':
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new InvalidAttributeValueError(path, 'has SS that is not a list of strings');
      break;
    case 'NS':
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && isDynamoDbNumber(item))) {
        throw new InvalidAttributeValueError(path, 'has NS that is not a list of numbers');
      }
      break;
    case 'BS':
      if (!Array.isArray(value) || !value.every(isBinary)) throw new InvalidAttributeValueError(path, 'has BS that is not a list of base64 values');
      break;
    default:
      throw new InvalidAttributeValueError(path, `has unknown type ${JSON.stringify(type)}`);
  }
  const native: unknown = convertToNative({ [type]: value } as unknown as SdkAttributeValue, { wrapNumbers: convertDynamoDbNumber });
  if (native instanceof Set) {
    sets?.push(recordPath);
    return Array.from(native, plainValue).sort(type === 'NS' ? compareNumbers : compareText);
  }
  return plainValue(native);
}

/** Bytes → base64; everything else util-dynamodb returns is already JSON-like. */
function plainValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}

function compareText(left: unknown, right: unknown): number {
  const [a, b] = [String(left), String(right)];
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * By value; exact decimals kept as strings (beyond 2^53) compare by their double first and by
 * their text when the doubles tie, which keeps the order total, so every input order sorts alike.
 */
function compareNumbers(left: unknown, right: unknown): number {
  return Number(left) - Number(right) || compareText(left, right);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBinary(value: unknown): boolean {
  if (value instanceof Uint8Array) return true;
  return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
