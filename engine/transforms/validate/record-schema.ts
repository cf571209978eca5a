import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-0[67]\/schema#?$/;

/**
 * Compiles the JSON Schema a `validate` step names (draft 2020-12 by default, draft-07 when its
 * `$schema` says so). Throws with ajv's message when the text is not JSON or not a valid schema.
 */
export function compileRecordSchema(text: string): ValidateFunction {
  const schema = JSON.parse(text) as { $schema?: string };
  const options = { allErrors: true, strict: false } as const;
  const ajv = DRAFT_07.test(String(schema.$schema ?? '')) ? new Ajv(options) : new Ajv2020(options);
  addFormats(ajv);
  return ajv.compile(schema);
}
