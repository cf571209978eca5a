/**
 * Templates prepared when a spec is packaged (prepare-templates.ts), registered when the handler
 * starts: `compileTemplate` of a prepared source renders from its plan without parsing, so a
 * Lambda bundle whose templates are all prepared needs no Handlebars.
 */
import type { TemplatePlan } from './plan-template.ts';

/** The templates of one spec, prepared at package time. JSON: the packager writes it beside the spec. */
export interface PreparedTemplates {
  /**
   * Whether some template of the spec needs Handlebars when the handler runs: one of a form
   * that has no plan (`{{#each}}`, `{{#with}}`, `../`, `@root`...) or one that does not compile.
   * When false, the bundle may leave Handlebars out.
   */
  needsHandlebars: boolean;
  /** The templates that render without Handlebars, with their plans. */
  plans: PreparedPlan[];
}

export interface PreparedPlan {
  source: string;
  plan: TemplatePlan;
}

const registered = new Map<string, TemplatePlan>();

/**
 * Registers prepared templates for this process: call once when the handler starts, before
 * compiling its templates. A later call adds to the earlier ones (the same source always has
 * the same plan).
 */
export function usePreparedTemplates(prepared: PreparedTemplates): void {
  for (const { source, plan } of prepared.plans) registered.set(source, plan);
}

/** The registered plan of a template source, if it was prepared. */
export function preparedPlan(source: string): TemplatePlan | undefined {
  return registered.get(source);
}
