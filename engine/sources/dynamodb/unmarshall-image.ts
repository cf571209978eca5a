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
 * Numbers follow `convertDynamoDbNumber`; sets become arrays in stream order; binary values
 * stay the base64 strings Lambda delivers (Uint8Array input is encoded to base64).
 */
export function unmarshallImage(image: unknown, path: string): RecordValue {
  if (!isPlainObject(image)) throw new InvalidAttributeValueError(path, 'is not a map of attributes');
  return mapToNative(image, path);
}

function mapToNative(map: Record<string, unknown>, path: string): RecordValue {
  const result: RecordValue = {};
  for (const [name, attribute] of Object.entries(map)) {
    Object.defineProperty(result, name, {
      value: toNative(attribute, `${path}.${name}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

function toNative(attribute: unknown, path: string): unknown {
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
      return mapToNative(value, path);
    case 'L':
      if (!Array.isArray(value)) throw new InvalidAttributeValueError(path, 'has L that is not a list');
      return value.map((item, index) => toNative(item, `${path}[${index}]`));
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
  return plainValue(native);
}

/** Sets → arrays, bytes → base64; everything else util-dynamodb returns is already JSON-like. */
function plainValue(value: unknown): unknown {
  if (value instanceof Set) return Array.from(value, plainValue);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBinary(value: unknown): boolean {
  if (value instanceof Uint8Array) return true;
  return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
