/**
 * Errors of Handlebars templates. Compile problems (`TemplateError`) are spec problems that
 * `ingest validate` reports through `checkTemplate`. Render problems (`TemplateRenderError`)
 * belong to one record: its key, index or id cannot be built, so the record fails rather than
 * landing under a wrong name.
 */

/** Why a template does not compile. The same codes as the spec codes `ingest validate` prints. */
export type TemplateErrorCode = 'invalid-template' | 'unknown-helper' | 'unknown-variable' | 'reserved-field-name';

/** One compile problem of a template, as data. Lines and columns are 1-based, like `Diagnostic`. */
export interface TemplateProblem {
  code: TemplateErrorCode;
  /** One line, without a source excerpt. */
  message: string;
  /** Line within the template, when known. */
  line?: number;
  /** Column within that line, when known. */
  column?: number;
  /** 0-based character offset in the template source (same place as line and column), when known. */
  offset?: number;
}

/** Thrown by `compileTemplate` when the template cannot be compiled. */
export class TemplateError extends Error {
  override name = 'TemplateError';
  readonly code: TemplateErrorCode;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly offset: number | undefined;
  /** The template source, for messages. */
  readonly source: string;

  constructor(problem: TemplateProblem, source: string, options?: { cause?: unknown }) {
    super(problem.message, options);
    this.code = problem.code;
    this.line = problem.line;
    this.column = problem.column;
    this.offset = problem.offset;
    this.source = source;
  }
}

/**
 * Why one render failed. Closed set, usable as a metric dimension:
 * - `missing-value`: a printed value or a helper argument is absent or null;
 * - `invalid-value`: a value cannot be printed or used (an object where text is needed, a date
 *   that does not parse, a format date-fns rejects);
 * - `non-finite-number`: a number to print or use is NaN or ±Infinity, which no key, id or
 *   JSON value can hold;
 * - `render-failed`: anything else Handlebars reports.
 */
export type TemplateRenderErrorCode = 'missing-value' | 'invalid-value' | 'non-finite-number' | 'render-failed';

/** Thrown by a compiled template when it cannot render for this context. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
  readonly code: TemplateRenderErrorCode;
  /** Where in the template the failing expression is (1-based), when known. */
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(
    code: TemplateRenderErrorCode,
    message: string,
    location?: { line?: number; column?: number },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.line = location?.line;
    this.column = location?.column;
  }
}
