import { UsageError } from '../engine/errors.ts';

/** `--param name=value` arguments as a prototype-free map; throws `UsageError` for one without a name and `=`. */
export function parseParameterArguments(parameterArguments: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = Object.create(null);
  for (const argument of parameterArguments) {
    const separator = argument.indexOf('=');
    if (separator <= 0) throw new UsageError(`--param takes name=value, got ${argument}`);
    parameters[argument.slice(0, separator)] = argument.slice(separator + 1);
  }
  return parameters;
}
