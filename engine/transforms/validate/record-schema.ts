import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import { decimalMultipleOf } from './decimal-multiple.ts';

// ajv-formats and ajv's standalone module are CommonJS; their default exports arrive wrapped under ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const standaloneCode = standaloneCodeModule as unknown as (ajv: Ajv, validate: ValidateFunction) => string;

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-0[67]\/schema#?$/;

function compile(text: string, emitSource: boolean): { ajv: Ajv; validate: ValidateFunction } {
  const schema = JSON.parse(text) as { $schema?: string };
  const options = { allErrors: true, strict: false, ...(emitSource ? { code: { source: true, esm: true } } : {}) };
  const ajv = DRAFT_07.test(String(schema.$schema ?? '')) ? new Ajv(options) : new Ajv2020(options);
  addFormats(ajv);
  // 0.07 is a multiple of 0.01 to a person; ajv's division says otherwise.
  ajv.removeKeyword('multipleOf');
  ajv.addKeyword(decimalMultipleOf);
  return { ajv, validate: ajv.compile(schema) };
}

/**
 * Compiles the JSON Schema a `validate` step names (draft 2020-12 by default, draft-07 when its
 * `$schema` says so). `multipleOf` is judged on decimals (`isDecimalMultiple`: 19.99 is a
 * multiple of 0.01). Throws with ajv's message when the text is not JSON or not a valid schema.
 */
export function compileRecordSchema(text: string): ValidateFunction {
  return compile(text, false).validate;
}

/**
 * The same validator as ES module source (ajv standalone code, default export), for `ingest
 * package` to bundle, so the Lambda never compiles a schema at cold start.
 */
export function recordSchemaModule(text: string): string {
  const { ajv, validate } = compile(text, true);
  return standaloneCode(ajv, validate);
}
