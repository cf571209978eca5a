import type { Parameter } from '@aws-sdk/client-cloudformation';
import { DeployError } from './errors.ts';

/** What `stackParameters` needs of a template's `Parameters` section. */
export type DeclaredParameters = Readonly<Record<string, { Default?: unknown }>>;

/**
 * The `Parameters` of a change set from `--parameter name=value` arguments. A name matches the
 * template's parameter of that name, or the one it becomes in the template (`out_bucket` →
 * `OutBucket`), so users write the names of their spec. A parameter not given keeps its value on
 * an update (`UsePreviousValue`, as `aws cloudformation deploy` does) and takes its default
 * otherwise. Throws `DeployError` (`parameters`) naming every unknown name and every parameter
 * that would be left without a value, before CloudFormation is asked anything.
 */
export function stackParameters(declared: DeclaredParameters, given: ReadonlyMap<string, string>, previous: ReadonlySet<string> | undefined): Parameter[] {
  const byLooseName = new Map(Object.keys(declared).map((name) => [looseName(name), name]));
  const values = new Map<string, string>();
  const unknown: string[] = [];
  for (const [name, value] of given) {
    const key = Object.hasOwn(declared, name) ? name : byLooseName.get(looseName(name));
    if (key === undefined) unknown.push(name);
    else values.set(key, value);
  }
  const declaredNames = Object.keys(declared);
  if (unknown.length > 0) {
    throw new DeployError('parameters', `the template has no parameter ${unknown.join(', ')}; it has ${declaredNames.length === 0 ? 'none' : declaredNames.join(', ')}`);
  }
  const missing = declaredNames.filter((name) => !values.has(name) && declared[name]!.Default === undefined && !previous?.has(name));
  if (missing.length > 0) throw new DeployError('parameters', `give a value to ${missing.map((name) => `--parameter ${name}=<value>`).join(', ')}: the template has no default for ${missing.length === 1 ? 'it' : 'them'}`);
  return declaredNames.flatMap((name): Parameter[] => {
    const value = values.get(name);
    if (value !== undefined) return [{ ParameterKey: name, ParameterValue: value }];
    return previous?.has(name) ? [{ ParameterKey: name, UsePreviousValue: true }] : [];
  });
}

/** `out_bucket`, `out-bucket` and `OutBucket` are one name. */
function looseName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
