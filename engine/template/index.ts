/** Handlebars templates: compile once, render per record; offline checks for `ingest validate`. */
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
