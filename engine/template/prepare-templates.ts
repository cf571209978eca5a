/**
 * Package time: the plans of a spec's templates, so that the Lambda bundle renders them without
 * parsing and, when every template has a plan, without Handlebars. Runs on the CLI side; the
 * handler registers the result with `usePreparedTemplates`.
 */
import { TEMPLATE_ROOTS } from '../spec/check.ts';
import { forEachTyped } from '../spec/schema-positions.ts';
import { templatePlan } from './compile-template.ts';
import type { PreparedTemplates } from './prepared-templates.ts';

const TEMPLATE_REFS: ReadonlySet<string> = new Set(Object.keys(TEMPLATE_ROOTS));

/**
 * Prepares templates for `usePreparedTemplates`. A template that needs Handlebars, or does not
 * compile, gets no plan and sets `needsHandlebars`: the handler then compiles it (or reports
 * its problem) as it would without preparation.
 */
export function prepareTemplates(sources: readonly string[]): PreparedTemplates {
  const prepared: PreparedTemplates = { needsHandlebars: false, plans: [] };
  for (const source of new Set(sources)) {
    const plan = templatePlan(source);
    if (plan) prepared.plans.push({ source, plan });
    else prepared.needsHandlebars = true;
  }
  return prepared;
}

/**
 * Every template of a spec (a resolved spec's value, which passed the schema): each string the
 * schema types as a template, found as `ingest validate` finds them to check them.
 */
export function specTemplateSources(spec: unknown): string[] {
  const sources: string[] = [];
  forEachTyped(spec, TEMPLATE_REFS, (_ref, source) => {
    if (typeof source === 'string') sources.push(source);
  });
  return sources;
}
