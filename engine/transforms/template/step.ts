import type { RecordMeta, RecordValue } from '../../pipeline/record.ts';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { compileTemplate, TemplateRenderError } from '../../template/index.ts';
import type { CompiledTemplate, TemplateContext } from '../../template/index.ts';
import { isPlainObject, parseFieldPath, writeField } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** `template: { field: "<Handlebars template>" }`. */
export type TemplateConfig = StepConfig<'template'>;

/**
 * Assigns rendered strings. Templates see `record`, `meta` and `now` (the invocation's time).
 * As with `set`, every template of the step renders against the record as it was before the
 * step, then the fields are assigned; dotted targets create missing parent objects, and a field
 * that exists is replaced: rendering a field's value is the step's purpose
 * (docs/decisions/0024-field-writes.md). A printed value that is missing or null, or a helper
 * that fails, fails the record with `transform-error` naming the field (guard optional values
 * with `{{#if record.x}}`); a NaN or infinite number with `non-finite-number`.
 * Compiling throws `TemplateError`.
 */
export const templateStep: StepPlugin<TemplateConfig> = {
  kind: 'template',
  compile(config) {
    if (!isPlainObject(config)) throw new Error('template: expected a mapping of field → template');
    const paths: FieldPath[] = [];
    const templates: CompiledTemplate[] = [];
    for (const [field, source] of Object.entries(config)) {
      paths.push(parseFieldPath(field));
      templates.push(compileTemplate(source));
    }
    const count = paths.length;
    // Reused by every record: steps run synchronously, one record at a time.
    const values: string[] = new Array(count).fill('');
    const context: TemplateContext & { record: RecordValue | undefined; meta: RecordMeta | undefined } = {
      record: undefined,
      meta: undefined,
      now: undefined,
    };

    return (record, meta, invocation) => {
      context.record = record;
      context.meta = meta;
      context.now = invocation.now;
      try {
        for (let index = 0; index < count; index++) {
          try {
            values[index] = templates[index]!(context);
          } catch (error) {
            if (error instanceof TemplateRenderError) {
              const code = error.code === 'non-finite-number' ? 'non-finite-number' : 'transform-error';
              throw new RecordError(code, `field \`${paths[index]!.text}\`: ${error.message}`, { cause: error });
            }
            throw error;
          }
        }
      } finally {
        // Do not keep the record alive until the next one arrives.
        context.record = undefined;
        context.meta = undefined;
      }
      for (let index = 0; index < count; index++) writeField(record, paths[index]!, values[index]);
      return record;
    };
  },
};
