import { UsageError } from '../engine/errors.ts';
import { readSpec } from '../engine/spec/read-spec.ts';
import { applyDefaults } from '../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../engine/spec/resolved-spec.ts';
import { ParameterError, checkParameters, substituteParameters } from '../engine/spec/resolved-spec.ts';
import { displayPath } from './files.ts';
import { formatDiagnostics } from './output.ts';
import { parseParameterArguments } from './parameters.ts';

/**
 * Reads, validates and resolves a spec for a command that works on it (`run`, `batches`, `sql`),
 * with its `--param name=value` values substituted. `required` names the parameters the command
 * cannot do without (none by default); other parameters without a value stay `${param.<name>}`
 * references. Prints the diagnostics and resolves to `undefined` when the spec is invalid; throws
 * `UsageError` for an unreadable file, a malformed `--param`, one that names no declared
 * parameter, or a required parameter without a value or default.
 */
export function readSpecWithParameters(
  path: string,
  parameterArguments: readonly string[],
  out: (text: string) => void,
  required: (spec: ResolvedSpec) => Iterable<string> = () => [],
): { spec: ResolvedSpec; parameters: Record<string, string> } | undefined {
  const read = readSpec(path, displayPath(path));
  if (!read.ok) {
    out(formatDiagnostics(read.errors, 'text'));
    return undefined;
  }
  const parameters = parseParameterArguments(parameterArguments);
  const spec = applyDefaults(read.spec.value);
  try {
    checkParameters(spec, parameters, (name) => `--param ${name}=<value>`, { required: required(spec) });
  } catch (error) {
    if (error instanceof ParameterError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return { spec: substituteParameters(spec, parameters), parameters };
}
