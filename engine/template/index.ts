/**
 * Handlebars templates: compile once, render per record; offline checks for `ingest validate`.
 * Package-time preparation (`prepareTemplates`, `specTemplateSources`) is in prepare-templates.ts,
 * which the Lambda bundle does not import.
 */
export {
  checkTemplate,
  compileTemplate,
  type CompiledTemplate,
  type TemplateContext,
  type TemplateOptions,
} from './compile-template.ts';
export {
  TemplateError,
  TemplateRenderError,
  type TemplateErrorCode,
  type TemplateProblem,
  type TemplateRenderErrorCode,
} from './errors.ts';
export { type PreparedPlan, type PreparedTemplates, usePreparedTemplates } from './prepared-templates.ts';
