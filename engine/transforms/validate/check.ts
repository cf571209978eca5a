import type { CheckContext } from '../../plugin/checks.ts';
import { compileRecordSchema } from './record-schema.ts';

/** A `validate` step's schema file must exist, be JSON and compile. */
export function checkValidateStep(config: { schema: string }, context: CheckContext): void {
  const text = context.files.read(config.schema);
  if (text === undefined) {
    context.report(['schema'], 'missing-file', `JSON Schema file \`${config.schema}\` cannot be read (paths are relative to the spec)`);
    return;
  }
  try {
    compileRecordSchema(text);
  } catch (error) {
    context.report(['schema'], 'invalid-schema-file', `JSON Schema file \`${config.schema}\` is invalid: ${(error as Error).message}`);
  }
}
