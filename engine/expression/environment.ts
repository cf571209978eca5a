/**
 * The one CEL environment every Ingest expression compiles in: two variables, the CEL standard
 * library as @marcbachmann/cel-js implements it, and the few declarations below that pipelines
 * over JSON records need. See docs/decisions/0003-cel-implementation.md for why each exists.
 */
import { Environment } from '@marcbachmann/cel-js';
import { epochDate } from '../time/epoch-instant.ts';

/** The only variables an expression may read. Both are dynamic maps (JSON objects). */
export const EXPRESSION_VARIABLES = ['record', 'meta'] as const;

/** Namespace object for `math.*`, the way the library itself declares `cel.bind`. */
class MathNamespace {}

type Arithmetic = (left: number, right: number) => number;

const ARITHMETIC: ReadonlyArray<readonly [string, Arithmetic]> = [
  ['+', (left, right) => left + right],
  ['-', (left, right) => left - right],
  ['*', (left, right) => left * right],
  ['/', (left, right) => left / right],
];

/** Thrown by Ingest's own functions for an argument they cannot use; reported as `invalid-argument`. */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the range of a CEL timestamp. */
const FIRST_TIMESTAMP = -62_135_596_800_000;
const LAST_TIMESTAMP = 253_402_300_799_999;

/**
 * `timestamp(double)`: a JSON number as a time, by the magnitude rule that the `date` template
 * helper and `cast` share (docs/decisions/0023-epoch-numbers.md).
 */
function timestampFromEpoch(value: number): Date {
  const date = epochDate(value);
  if (date === undefined || date.getTime() < FIRST_TIMESTAMP || date.getTime() > LAST_TIMESTAMP) {
    throw new InvalidArgumentError(`timestamp(${String(value)}) is not a time between years 0001 and 9999`);
  }
  return date;
}

/** cel-go's `math.round`: halves round away from zero (JavaScript's `Math.round` rounds them up). */
function roundHalfAwayFromZero(value: number): number {
  return Math.sign(value) * Math.round(Math.abs(value));
}

function createEnvironment(): Environment {
  const environment = new Environment({
    // JSON objects mix value types freely; cel-go also types `[1, 'a']` as list(dyn) by default.
    homogeneousAggregateLiterals: false,
    // `record.?discount.orValue(0.0)` is the natural way to read an optional JSON field.
    enableOptionalTypes: true,
    unlistedVariablesAreDyn: false,
  })
    .registerVariable('record', 'map', { description: 'The record being processed (a JSON object).' })
    .registerVariable('meta', 'map', { description: 'Where the record came from: source, position, arrival_time...' });

  // JSON has one number type, so every number in a record reaches CEL as a double. Without these
  // overloads `record.count + 1` would fail at run time with "no such overload: double + int";
  // mixing a double with an int literal yields a double, exactly as JavaScript would.
  for (const [operator, apply] of ARITHMETIC) {
    environment.registerOperator(`double ${operator} int: double`, (left: number, right: bigint) =>
      apply(left, Number(right)),
    );
    environment.registerOperator(`int ${operator} double: double`, (left: bigint, right: number) =>
      apply(Number(left), right),
    );
  }
  // `record.id % 10 == 0` (sampling) is the common case; CEL defines `%` on integers only.
  environment.registerOperator('double % int: double', (left: number, right: bigint) => left % Number(right));
  environment.registerOperator('int % double: double', (left: bigint, right: number) => Number(left) % right);
  environment.registerOperator('double % double: double', (left: number, right: number) => left % right);

  // A subset of cel-go's math extension, same names and semantics: `int(record.amount * 100.0)`
  // truncates 0.29 * 100.0 = 28.999999999999996 to 28; `int(math.round(...))` gives 29.
  environment
    .registerType('MathNamespace', MathNamespace)
    .registerConstant('math', 'MathNamespace', new MathNamespace());
  const math: ReadonlyArray<readonly [string, (value: number) => number, string]> = [
    ['round', roundHalfAwayFromZero, 'Rounds to the nearest integer, halves away from zero.'],
    ['floor', Math.floor, 'Rounds down.'],
    ['ceil', Math.ceil, 'Rounds up.'],
    ['trunc', Math.trunc, 'Drops the fractional part.'],
    ['abs', Math.abs, 'Absolute value.'],
  ];
  for (const [name, apply, description] of math) {
    environment.registerFunction(
      `MathNamespace.${name}(double): double`,
      (_namespace: MathNamespace, value: number) => apply(value),
      { description },
    );
  }
  environment.registerFunction('MathNamespace.abs(int): int', (_namespace: MathNamespace, value: bigint) =>
    value < 0n ? -value : value,
  );

  // Record numbers are doubles, and CEL's own timestamp(int) reads seconds only: a JSON epoch in
  // milliseconds would fail there. timestamp(int) keeps CEL's meaning; it agrees with this rule
  // for every int below 10^11 (years up to 5138).
  environment.registerFunction('timestamp(double): google.protobuf.Timestamp', timestampFromEpoch, {
    description: 'An epoch number as a time: seconds below 10^11, then milliseconds, microseconds, nanoseconds.',
  });

  // cel-go's strings extension `replace`: every occurrence, or the first `limit` ones.
  environment.registerFunction(
    'string.replace(string, string): string',
    (text: string, search: string, replacement: string) => text.replaceAll(search, replacement),
    { description: 'Replaces every occurrence of a substring.' },
  );
  environment.registerFunction(
    'string.replace(string, string, int): string',
    (text: string, search: string, replacement: string, limit: bigint) => replaceFirst(text, search, replacement, limit),
    { description: 'Replaces the first `limit` occurrences of a substring (all when negative).' },
  );
  return environment;
}

function replaceFirst(text: string, search: string, replacement: string, limit: bigint): string {
  if (limit < 0n) return text.replaceAll(search, replacement);
  let result = '';
  let position = 0;
  for (let count = 0n; count < limit; count++) {
    const index = text.indexOf(search, position);
    if (index < 0) break;
    result += text.slice(position, index) + replacement;
    if (search.length > 0) {
      position = index + search.length;
    } else {
      // An empty search matches before every character and at the end, as in cel-go.
      if (index >= text.length) {
        position = text.length;
        break;
      }
      result += text[index];
      position = index + 1;
    }
  }
  return result + text.slice(position);
}

let shared: Environment | undefined;

/** The environment, built on first use (building one costs milliseconds; compiling in it, microseconds). */
export function expressionEnvironment(): Environment {
  shared ??= createEnvironment();
  return shared;
}

/** Names callable as `name(...)` and as `receiver.name(...)`, for reporting unknown functions. */
export interface FunctionNames {
  global: ReadonlySet<string>;
  methods: ReadonlySet<string>;
}

let names: FunctionNames | undefined;

export function declaredFunctionNames(): FunctionNames {
  if (names) return names;
  const global = new Set<string>();
  const methods = new Set<string>();
  for (const declaration of expressionEnvironment().getDefinitions().functions) {
    (declaration.receiverType ? methods : global).add(declaration.name);
  }
  names = { global, methods };
  return names;
}
