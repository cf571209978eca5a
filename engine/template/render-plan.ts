/**
 * Renders a template plan (plan-template.ts) with closures built once per template: no
 * Handlebars, no per-render setup. Each piece does what the code Handlebars generates for it
 * does, with the options Ingest compiles with (no escaping, not strict, default prototype
 * access), and calls the same helpers with the same arguments.
 */
import { HELPER_IMPLEMENTATIONS, type HelperCallOptions, printValue } from './helpers.ts';
import type { PlanLocation, PlanPart, PlanValue, TemplatePlan } from './plan-template.ts';

type Render = (context: unknown) => string;
type Evaluate = (context: unknown) => unknown;

/**
 * The render function of a plan. `missingAsEmpty` is `TemplateOptions.missing === 'empty'`.
 *
 * @throws (the returned function) TemplateRenderError, as the helpers do.
 */
export function renderPlan(plan: TemplatePlan, missingAsEmpty: boolean): (context: unknown) => string {
  return renderParts(plan.parts, missingAsEmpty);
}

function renderParts(parts: readonly PlanPart[], missingAsEmpty: boolean): Render {
  const renders = parts.map((part) => renderPart(part, missingAsEmpty));
  if (renders.length === 0) return () => '';
  if (renders.length === 1) return renders[0]!;
  return (context) => {
    let text = '';
    for (const render of renders) text += render(context);
    return text;
  };
}

function renderPart(part: PlanPart, missingAsEmpty: boolean): Render {
  if (typeof part === 'string') return () => part;
  if ('print' in part) {
    const value = evaluator(part.print);
    const { text } = part;
    const options = helperOptions(part.at);
    return (context) => printValue(value(context), text, missingAsEmpty, options);
  }
  const condition = evaluator(part.if);
  const { includeZero } = part;
  const whenTrue = renderParts(part.then, missingAsEmpty);
  const whenFalse = renderParts(part.else, missingAsEmpty);
  // Handlebars' `if`: a function is called with the context; 0 counts as true with includeZero;
  // false, '', null, undefined, NaN and an empty list count as false.
  return (context) => {
    let value = condition(context);
    if (typeof value === 'function') value = value.call(context ?? {});
    const empty = (!value && value !== 0) || (Array.isArray(value) && value.length === 0);
    return (!includeZero && !value) || empty ? whenFalse(context) : whenTrue(context);
  };
}

function evaluator(value: PlanValue): Evaluate {
  if ('literal' in value) {
    const literal = value.literal;
    return () => literal;
  }
  if ('path' in value) return pathReader(value.path);
  const args = value.arguments.map(evaluator);
  const options = helperOptions(value.at);
  if (value.call === 'lookup') {
    const [object, key] = args as [Evaluate, Evaluate];
    // Handlebars' `lookup`: a falsy object is returned as it is. Both arguments are evaluated
    // first, as Handlebars does, so a failing helper in the key fails the render either way.
    return (context) => {
      const found = object(context);
      const name = key(context);
      return found ? lookupProperty(found, name) : found;
    };
  }
  const helper = HELPER_IMPLEMENTATIONS[value.call]!;
  if (args.length === 1) {
    const [first] = args as [Evaluate];
    return (context) => helper(first(context), options);
  }
  if (args.length === 2) {
    const [first, second] = args as [Evaluate, Evaluate];
    return (context) => helper(first(context), second(context), options);
  }
  return (context) => helper(...args.map((argument) => argument(context)), options);
}

/** What Handlebars generates for a path: each step reads an own property of a non-null value. */
function pathReader(parts: readonly string[]): Evaluate {
  if (parts.length === 1) {
    const [name] = parts as [string];
    return (context) => (context != null ? lookupProperty(context, name) : context);
  }
  if (parts.length === 2) {
    const [first, second] = parts as [string, string];
    return (context) => {
      const parent = context != null ? lookupProperty(context, first) : context;
      return parent != null ? lookupProperty(parent, second) : parent;
    };
  }
  return (context) => {
    let value = context;
    for (const name of parts) {
      if (value == null) return value;
      value = lookupProperty(value, name);
    }
    return value;
  };
}

/**
 * Handlebars' `lookupProperty` under its default prototype access: an own property, unless it is
 * a prototype's own `constructor`; anything inherited reads as undefined.
 */
function lookupProperty(parent: unknown, name: unknown): unknown {
  const result = (parent as Record<PropertyKey, unknown>)[name as PropertyKey];
  if (result == null) return result;
  if (!Object.prototype.hasOwnProperty.call(parent, name as PropertyKey)) return undefined;
  const prototypeConstructor =
    name === 'constructor' && typeof result === 'function' && parent === (result as { prototype?: unknown }).prototype;
  return prototypeConstructor ? undefined : result;
}

function helperOptions(at: PlanLocation): HelperCallOptions {
  return { loc: { start: { line: at.line, column: at.column } } };
}
