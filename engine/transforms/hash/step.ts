import { createHmac, createSecretKey, hash } from 'node:crypto';
import type { Hmac, KeyObject } from 'node:crypto';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { parseFieldPaths, leafOf, parentOf } from '../field-path.ts';

/** `hash: { fields, algorithm?, salt? }`. */
export type HashConfig = StepConfig<'hash'>;

const PARAMETER_REFERENCE = /\$\{param\.([^}]*)\}/g;

/**
 * Pseudonymizes fields: each value becomes a lowercase hex digest, so the same value always maps
 * to the same digest (joins and counts still work) while the value itself is gone. With a `salt`
 * the digest is HMAC-SHA256 keyed by the salt, which cannot be reversed by hashing guesses without
 * the key; without one it is plain SHA-256, which can (emails and phone numbers are easy to
 * guess): always set a salt for personal data. Missing fields and `null` are left alone (a digest
 * of null would only say "null").
 *
 * The hashed text of a value (UTF-8): a string is itself; a number its JSON text (shortest
 * round-trip decimal: `1.5`, `100`); a boolean `true`/`false`; an object or list compact JSON with
 * object keys sorted at every level, so key order never changes a digest. List order does: a
 * list is ordered. DynamoDB sets are not, and reach the step as lists the decoder sorted
 * (`unmarshallImage`), so a set's digest never depends on the order its stream record listed it
 * in; binary values arrive as base64 text. The same digest can be recomputed elsewhere, e.g. PostgreSQL
 * `encode(hmac(email, salt, 'sha256'), 'hex')`.
 *
 * `${param.name}` references in `salt` are replaced by the resolved parameter values when the step
 * compiles; a reference to a parameter without a value throws then.
 */
export const hashStep: StepPlugin<HashConfig> = {
  kind: 'hash',
  compile(config, environment) {
    const algorithm = config.algorithm ?? 'sha256';
    if (algorithm !== 'sha256') throw new Error(`hash: unsupported algorithm ${JSON.stringify(algorithm)} (supported: sha256)`);
    const salt = config.salt === undefined ? undefined : resolveSalt(config.salt, environment.parameters);
    // The salt becomes a key object once: given as text, every HMAC would convert it again.
    const key = salt === undefined ? undefined : createSecretKey(Buffer.from(salt, 'utf8'));
    const digest = key === undefined ? (text: string) => hash('sha256', text, 'hex') : (text: string) => hmacHex(key, text);
    const paths = parseFieldPaths(config.fields);
    const leaves = paths.map(leafOf);
    const count = paths.length;
    return (record) => {
      for (let index = 0; index < count; index++) {
        const parent = parentOf(record, paths[index]!);
        const leaf = leaves[index]!;
        if (parent === undefined || !Object.hasOwn(parent, leaf)) continue;
        const value = parent[leaf];
        if (value === null || value === undefined) continue;
        parent[leaf] = digest(canonicalString(value));
      }
      return record;
    };
  },
};

function resolveSalt(salt: string, parameters: Readonly<Record<string, string>>): string {
  if (typeof salt !== 'string') throw new Error('hash: salt must be a string');
  return salt.replace(PARAMETER_REFERENCE, (_reference, name: string) => {
    const value = Object.hasOwn(parameters, name) ? parameters[name] : undefined;
    if (value === undefined) throw new Error(`hash: salt refers to parameter \`${name}\`, which has no value`);
    return String(value);
  });
}

/** The text hashed for a value; see `hashStep`. */
function canonicalString(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return canonicalJson(value);
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((element) => (element === undefined ? 'null' : canonicalJson(element))).join(',')}]`;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).filter((key) => object[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value) ?? 'null';
}

/** The first HMAC object `hmacHex` made; see there. */
let firstHmac: Hmac | undefined;

/**
 * The salted digest of `text`. Node's HMAC objects are made per value; the first is kept, so that
 * a full collection between invocations leaves their hidden classes, and the code compiled
 * against them, in place (docs/decisions/0057-stable-layouts.md).
 */
function hmacHex(key: KeyObject, text: string): string {
  const hmac = createHmac('sha256', key);
  firstHmac ??= hmac;
  return hmac.update(text).digest('hex');
}
