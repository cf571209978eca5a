import { analyzeTemplate, routeOutputThroughPrintHelper, SourcePositions } from '../../../engine/template/analyze-template.ts';
import { TemplateRenderError, type TemplateContext } from '../../../engine/template/index.ts';
import { COMPILE_OPTIONS, parseTemplate, templateEnvironment } from '../../../engine/template/handlebars-engine.ts';

/**
 * A template rendered by plain Handlebars, as `compileTemplate` rendered every template before
 * render plans: the same checks and print rewrite, the same environment, and
 * Handlebars' own setup on every call. The reference that render plans and the once-only setup
 * are compared with, in tests and benchmarks.
 */
export function handlebarsTemplate(source: string, missingAsEmpty = false): (context: TemplateContext) => string {
  const positions = new SourcePositions(source);
  const program = parseTemplate(source);
  const { problems, helpers } = analyzeTemplate(program, positions);
  if (problems.length > 0) throw new Error(`${source}: ${problems[0]!.message}`);
  const environment = templateEnvironment(helpers);
  const routed = routeOutputThroughPrintHelper(program, positions, missingAsEmpty);
  environment.precompile(routed, COMPILE_OPTIONS);
  const render = environment.compile(routed, COMPILE_OPTIONS);
  return (context) => {
    try {
      return render(context);
    } catch (error) {
      if (error instanceof TemplateRenderError) throw error;
      const excerpt = source.length > 80 ? `${source.slice(0, 77)}...` : source;
      throw new TemplateRenderError('render-failed', `template ${JSON.stringify(excerpt)}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
  };
}
