/**
 * Spec strings as CloudFormation values. A spec string may hold `${param.<name>}` references;
 * in the template they become `${<Parameter>}` references of an `Fn::Sub` over the stack's
 * Parameters, and every other `${` is escaped so that text the user wrote never turns into a
 * substitution. (ARNs are built from such values with `sub` of `intrinsics.ts` and `arns.ts`.)
 */
import { logicalIdOf } from '../engine/spec/logical-id.ts';
import type { CfnValue } from './contribution.ts';

const PARAMETER = /\$\{param\.([a-z][a-z0-9_]*)\}/g;

/** The logical id of a spec parameter: its CamelCase form, `redshift_secret` → `RedshiftSecret`. */
export function parameterLogicalId(name: string): string {
  return logicalIdOf(name);
}

/** Whether a spec string refers to a parameter. */
export function hasParameterReference(text: string): boolean {
  return new RegExp(PARAMETER.source).test(text);
}

/**
 * The text of an `Fn::Sub` template that renders `text`: parameter references become references
 * to their CloudFormation Parameters, any other `${` is escaped (`${!`).
 */
function subTemplate(text: string): string {
  let result = '';
  let last = 0;
  for (const match of text.matchAll(PARAMETER)) {
    result += text.slice(last, match.index).replaceAll('${', '${!');
    result += `\${${parameterLogicalId(match[1]!)}}`;
    last = match.index! + match[0].length;
  }
  return result + text.slice(last).replaceAll('${', '${!');
}

/**
 * The value of a spec string: itself when it holds no `${`; an `Fn::Sub` when it refers to a
 * parameter; else an `Fn::Join` that keeps each `$` apart from the `{` after it. (CloudFormation
 * takes `${AWS::Region}` outside `Fn::Sub` literally, but cfn-lint reports it as a forgotten
 * `Fn::Sub`, E1029, and an `Fn::Sub` without variables as unneeded, W1020.)
 */
export function specValue(text: string): CfnValue {
  if (!text.includes('${')) return text;
  if (hasParameterReference(text)) return { 'Fn::Sub': subTemplate(text) };
  return { 'Fn::Join': ['', text.split('${').flatMap((piece, index) => (index === 0 ? [piece] : ['$', `{${piece}`])).filter((piece) => piece !== '')] };
}
