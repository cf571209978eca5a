/**
 * CloudFormation intrinsic functions as the generator modules write them. `sub` is the one way
 * ARNs are built: it inlines literal parts, so a template reads `arn:${AWS::Partition}:s3:::acme-raw/clicks/*`
 * instead of a nest of `Fn::Join`s, and keeps parameter references as `Fn::Sub` variables.
 */
import type { CfnValue } from './contribution.ts';

/** `{ Ref: logicalId }`. */
export function ref(logicalId: string): CfnValue {
  return { Ref: logicalId };
}

/** `{ 'Fn::GetAtt': [logicalId, attribute] }`. */
export function getAtt(logicalId: string, attribute: string): CfnValue {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}

/**
 * `{ Ref: X }` for a value that is exactly one substitution `{ 'Fn::Sub': '${X}' }` (a spec string
 * that is a whole parameter reference), which CloudFormation also takes where `Fn::Sub` is not
 * allowed (Conditions); any other value unchanged.
 */
export function simplified(value: CfnValue): CfnValue {
  const text = subText(value);
  const whole = text === undefined ? undefined : /^\$\{([A-Za-z0-9]+)\}$/.exec(text);
  return whole ? ref(whole[1]!) : value;
}

const PLACEHOLDER = /\$\{([A-Za-z0-9]+)\}/g;

/**
 * The value of `template` with each `${Name}` of `values` filled in; `${AWS::Region}` and the other
 * pseudo parameters stay for CloudFormation. A literal string is written into the text (any `${`
 * in it escaped as `${!`, so it stays literal); a `{ 'Fn::Sub': text }` (what
 * `GeneratorContext.value` returns for a spec string with parameter references) is merged into
 * the text, and so is a `{ Ref: X }`, as `${X}`; any other value becomes a variable of the `Fn::Sub`. Returns the plain string when
 * nothing is left to substitute.
 */
export function sub(template: string, values: Readonly<Record<string, CfnValue>> = {}): CfnValue {
  const variables: Record<string, CfnValue> = {};
  const text = template.replace(PLACEHOLDER, (placeholder, name: string) => {
    if (!Object.hasOwn(values, name)) return placeholder;
    const value = values[name]!;
    if (typeof value === 'string' || typeof value === 'number') return String(value).replaceAll('${', '${!');
    const inner = subText(value);
    if (inner !== undefined) return inner;
    variables[name] = value;
    return placeholder;
  });
  if (!text.includes('${')) return text;
  return Object.keys(variables).length === 0 ? { 'Fn::Sub': text } : { 'Fn::Sub': [text, variables] };
}

/** The `Fn::Sub` text of a one-argument `Fn::Sub` or a `Ref`, which may be merged into another `Fn::Sub`'s text. */
function subText(value: CfnValue): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Object.keys(value).length !== 1) return undefined;
  const text = value['Fn::Sub'];
  if (typeof text === 'string') return text;
  const target = value.Ref;
  return typeof target === 'string' ? `\${${target}}` : undefined;
}
