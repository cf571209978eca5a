import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Lambda event filtering (`FilterCriteria`), which uses the EventBridge event-pattern language,
 * for local runs and spec tests: in AWS the event source mapping applies the patterns and the
 * function never sees a record that matches none, so `ingest run` and `ingest test` must drop the
 * same records. No maintained npm implementation exists (see docs/decisions/0020-event-filter-patterns.md);
 * this one follows the EventBridge reference:
 *
 * - a pattern is an object; nested objects follow the event's nesting, and each leaf is a list
 *   of matchers, any of which may match (OR); all fields of a pattern must match (AND);
 *   `$or: [pattern, ...]` matches when any of its patterns does;
 * - arrays in the event are flattened: a leaf matches when any element matches;
 * - matchers: a string, number, boolean or null (equality, types not coerced); `prefix`,
 *   `suffix` (each also with `{ equals-ignore-case }`), `equals-ignore-case`, `wildcard` (`*`,
 *   `\*` for a literal star), `anything-but` (a value, a list, or `{ prefix | suffix |
 *   equals-ignore-case | wildcard }`), `numeric` (one or two comparisons `<`, `<=`, `=`, `>=`,
 *   `>`), `exists` (true: the leaf has a value; false: it has none), `cidr` (IPv4 or IPv6).
 *
 * One deliberate difference: Lambda compares numbers by their JSON text for equality (`300`
 * and `300.0` differ); here they are compared as numbers after JSON parsing.
 */

/** A pattern that Lambda would refuse when the event source mapping is created. */
export class FilterPatternError extends Error {
  override name = 'FilterPatternError';
  /** Path inside the pattern list, e.g. `[0, 'data', 'type', 1]`. */
  readonly path: (string | number)[];
  constructor(path: (string | number)[], message: string) {
    super(message);
    this.path = path;
  }
}

/** Compiled filter patterns of one source: an event matches when any pattern matches. */
export interface FilterPatterns {
  /**
   * True when `subject` matches at least one pattern. A pattern that names `data` never matches
   * when `dataIsJson` is false: Lambda drops a record whose data is not JSON under such a pattern.
   */
  matches(subject: unknown, dataIsJson: boolean): boolean;
}

type Matcher = (value: Leaf) => boolean;
type Leaf = string | number | boolean | null;

/** A compiled pattern level: each field's test, plus `$or` alternatives. */
interface CompiledPattern {
  fields: { name: string; test: FieldTest }[];
  alternatives: CompiledPattern[][];
}

type FieldTest = { kind: 'nested'; pattern: CompiledPattern } | { kind: 'leaf'; matchers: Matcher[]; exists?: boolean };

/**
 * Compiles the patterns of a source's `filter`. Throws `FilterPatternError` naming the path of
 * the first problem, so `ingest validate` can report it at its line and column.
 */
export function compileFilterPatterns(patterns: readonly unknown[]): FilterPatterns {
  const compiled = patterns.map((pattern, index) => {
    if (!isObject(pattern) || Object.keys(pattern).length === 0) throw new FilterPatternError([index], 'a filter pattern is an object with at least one field');
    return { pattern: compilePattern(pattern, [index]), usesData: Object.hasOwn(pattern, 'data') };
  });
  return {
    matches(subject, dataIsJson) {
      return compiled.some(({ pattern, usesData }) => (dataIsJson || !usesData) && matchesPattern(pattern, [subject]));
    },
  };
}

function compilePattern(pattern: Record<string, unknown>, path: (string | number)[]): CompiledPattern {
  const compiled: CompiledPattern = { fields: [], alternatives: [] };
  for (const [name, value] of Object.entries(pattern)) {
    const here = [...path, name];
    if (name === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isObject)) throw new FilterPatternError(here, '`$or` takes a list of at least two patterns');
      compiled.alternatives.push(value.map((alternative, index) => compilePattern(alternative, [...here, index])));
    } else if (Array.isArray(value)) {
      compiled.fields.push({ name, test: compileLeaf(value, here) });
    } else if (isObject(value)) {
      if (Object.keys(value).length === 0) throw new FilterPatternError(here, `field \`${name}\` has an empty pattern`);
      compiled.fields.push({ name, test: { kind: 'nested', pattern: compilePattern(value, here) } });
    } else {
      throw new FilterPatternError(here, `field \`${name}\` must be a list of values or matchers, e.g. [${JSON.stringify(value)}], or a nested pattern`);
    }
  }
  return compiled;
}

function compileLeaf(values: unknown[], path: (string | number)[]): FieldTest {
  if (values.length === 0) throw new FilterPatternError(path, 'a list of matchers cannot be empty');
  const matchers: Matcher[] = [];
  let exists: boolean | undefined;
  values.forEach((value, index) => {
    const here = [...path, index];
    if (isObject(value) && Object.keys(value).length === 1 && Object.hasOwn(value, 'exists')) {
      if (typeof value.exists !== 'boolean') throw new FilterPatternError([...here, 'exists'], '`exists` takes true or false');
      if (values.length > 1) throw new FilterPatternError(here, '`exists` must be the only matcher of its field');
      exists = value.exists;
      return;
    }
    matchers.push(compileMatcher(value, here));
  });
  return exists === undefined ? { kind: 'leaf', matchers } : { kind: 'leaf', matchers, exists };
}

function compileMatcher(value: unknown, path: (string | number)[]): Matcher {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return (leaf) => leaf === value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FilterPatternError(path, 'a number must be finite');
    return (leaf) => leaf === value;
  }
  if (!isObject(value)) throw new FilterPatternError(path, `${JSON.stringify(value)} is not a value or a matcher`);
  const entries = Object.entries(value);
  if (entries.length !== 1) throw new FilterPatternError(path, `a matcher has exactly one operator, not ${entries.length}`);
  const [operator, operand] = entries[0]!;
  const here = [...path, operator];
  switch (operator) {
    case 'prefix':
    case 'suffix': {
      const test = operator === 'prefix' ? (text: string, part: string) => text.startsWith(part) : (text: string, part: string) => text.endsWith(part);
      if (typeof operand === 'string') return (leaf) => typeof leaf === 'string' && test(leaf, operand);
      const ignoringCase = ignoreCaseOperand(operand, here);
      return (leaf) => typeof leaf === 'string' && test(fold(leaf), ignoringCase);
    }
    case 'equals-ignore-case': {
      if (typeof operand !== 'string') throw new FilterPatternError(here, '`equals-ignore-case` takes a string');
      const folded = fold(operand);
      return (leaf) => typeof leaf === 'string' && fold(leaf) === folded;
    }
    case 'wildcard': {
      if (typeof operand !== 'string') throw new FilterPatternError(here, '`wildcard` takes a string');
      const expression = wildcardExpression(operand);
      return (leaf) => typeof leaf === 'string' && expression.test(leaf);
    }
    case 'anything-but':
      return anythingBut(operand, here);
    case 'numeric':
      return numeric(operand, here);
    case 'cidr':
      return cidr(operand, here);
    default:
      throw new FilterPatternError(here, `unknown matcher \`${operator}\` (known: prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr)`);
  }
}

function ignoreCaseOperand(operand: unknown, path: (string | number)[]): string {
  if (isObject(operand) && Object.keys(operand).length === 1 && typeof operand['equals-ignore-case'] === 'string') return fold(operand['equals-ignore-case']);
  throw new FilterPatternError(path, 'takes a string or `{ equals-ignore-case: string }`');
}

function anythingBut(operand: unknown, path: (string | number)[]): Matcher {
  if (Array.isArray(operand)) {
    if (operand.length === 0 || !operand.every((item) => typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item)))) {
      throw new FilterPatternError(path, '`anything-but` takes a list of strings or numbers');
    }
    const excluded = new Set<unknown>(operand);
    return (leaf) => !excluded.has(leaf);
  }
  if (typeof operand === 'string' || (typeof operand === 'number' && Number.isFinite(operand))) return (leaf) => leaf !== operand;
  if (isObject(operand) && Object.keys(operand).length === 1) {
    const [[operator, inner]] = Object.entries(operand) as [[string, unknown]];
    if (operator === 'equals-ignore-case') {
      const list = Array.isArray(inner) ? inner : [inner];
      if (list.length === 0 || !list.every((item) => typeof item === 'string')) throw new FilterPatternError([...path, operator], 'takes a string or a list of strings');
      const folded = new Set(list.map((item) => fold(item as string)));
      return (leaf) => typeof leaf !== 'string' || !folded.has(fold(leaf));
    }
    if (operator === 'prefix' || operator === 'suffix' || operator === 'wildcard') {
      if (typeof inner !== 'string') throw new FilterPatternError([...path, operator], 'takes a string');
      const inverse = compileMatcher({ [operator]: inner }, path);
      return (leaf) => typeof leaf !== 'string' || !inverse(leaf);
    }
  }
  throw new FilterPatternError(path, '`anything-but` takes a value, a list, or `{ prefix | suffix | equals-ignore-case | wildcard }`');
}

const COMPARISONS: Record<string, (left: number, right: number) => boolean> = {
  '<': (left, right) => left < right,
  '<=': (left, right) => left <= right,
  '=': (left, right) => left === right,
  '>=': (left, right) => left >= right,
  '>': (left, right) => left > right,
};

function numeric(operand: unknown, path: (string | number)[]): Matcher {
  const problem = () => new FilterPatternError(path, '`numeric` takes one or two comparisons, e.g. [">", 0, "<=", 5]');
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) throw problem();
  const tests: ((value: number) => boolean)[] = [];
  for (let index = 0; index < operand.length; index += 2) {
    const [operator, bound] = [operand[index], operand[index + 1]];
    const compare = typeof operator === 'string' && Object.hasOwn(COMPARISONS, operator) ? COMPARISONS[operator] : undefined;
    if (compare === undefined || typeof bound !== 'number' || !Number.isFinite(bound)) throw problem();
    tests.push((value) => compare(value, bound));
  }
  if (tests.length === 2 && (operand[0] === '=' || operand[2] === '=')) throw problem();
  return (leaf) => typeof leaf === 'number' && tests.every((test) => test(leaf));
}

function cidr(operand: unknown, path: (string | number)[]): Matcher {
  const match = typeof operand === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(operand) : null;
  const [address, bits] = match ? [match[1]!, Number(match[2])] : ['', -1];
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (family === undefined || bits > (family === 'ipv4' ? 32 : 128)) throw new FilterPatternError(path, '`cidr` takes an IPv4 or IPv6 block, e.g. "10.0.0.0/24"');
  const block = new BlockList();
  block.addSubnet(address, bits, family);
  return (leaf) => typeof leaf === 'string' && ((family === 'ipv4' && isIPv4(leaf)) || (family === 'ipv6' && isIPv6(leaf))) && block.check(leaf, family);
}

/** `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash. */
function wildcardExpression(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index]!;
    if (character === '\\' && (pattern[index + 1] === '*' || pattern[index + 1] === '\\')) {
      source += `\\${pattern[++index]}`;
    } else if (character === '*') {
      source += '.*';
    } else {
      source += character.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's');
}

function fold(text: string): string {
  return text.toLowerCase();
}

/** `nodes` are the values reached so far (several when the event has arrays on the way). */
function matchesPattern(pattern: CompiledPattern, nodes: unknown[]): boolean {
  for (const { name, test } of pattern.fields) {
    const children = nodes.flatMap((node) => childrenOf(node, name));
    if (test.kind === 'nested') {
      if (!matchesPattern(test.pattern, children)) return false;
      continue;
    }
    const leaves = children.flatMap(leavesOf);
    if (test.exists !== undefined) {
      if ((leaves.length > 0) !== test.exists) return false;
      continue;
    }
    if (!leaves.some((leaf) => test.matchers.some((matcher) => matcher(leaf)))) return false;
  }
  return pattern.alternatives.every((alternatives) => alternatives.some((alternative) => matchesPattern(alternative, nodes)));
}

// Both walk arrays with an explicit stack: event data nested thousands of levels deep must not
// overflow the call stack (a record's content never escapes its record).
function childrenOf(node: unknown, name: string): unknown[] {
  const children: unknown[] = [];
  const pending = [node];
  while (pending.length > 0) {
    const current = pending.pop();
    if (Array.isArray(current)) pending.push(...[...current].reverse());
    else if (isObject(current) && Object.hasOwn(current, name)) children.push(current[name]);
  }
  return children;
}

/** The scalar values a field holds: itself, or the scalars of its arrays; objects hold none at this path. */
function leavesOf(value: unknown): Leaf[] {
  const leaves: Leaf[] = [];
  const pending = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (Array.isArray(current)) pending.push(...[...current].reverse());
    else if (current === null || typeof current === 'string' || typeof current === 'number' || typeof current === 'boolean') leaves.push(current);
  }
  return leaves;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
