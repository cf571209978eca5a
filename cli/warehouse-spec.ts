import { UsageError } from '../engine/errors.ts';
import { readSpec } from '../engine/spec/read-spec.ts';
import { applyDefaults } from '../engine/spec/resolve.ts';
import type { ResolvedSpec, SinkConfig } from '../engine/spec/resolved-spec.ts';
import { ParameterError, checkParameters, substituteParameters } from '../engine/spec/resolved-spec.ts';
import { displayPath } from './files.ts';
import { formatDiagnostics } from './output.ts';
import { parseParameterArguments } from './parameters.ts';

/** A sink that loads in batches through the ledger: redshift or postgres. */
export type WarehouseSink = [id: string, config: SinkConfig<'redshift' | 'postgres'>];

/**
 * Reads, validates and resolves a spec for the commands that work on its warehouse sinks
 * (`ingest batches`, `ingest sql`), with `--param name=value` values substituted. Parameters
 * without a value stay `${param.<name>}` references. Prints the diagnostics and resolves to
 * `undefined` when the spec is invalid; throws `UsageError` for an unreadable file or a
 * `--param` that is malformed or names no declared parameter.
 */
export function readWarehouseSpec(path: string, parameterArguments: readonly string[], out: (text: string) => void): ResolvedSpec | undefined {
  const read = readSpec(path, displayPath(path));
  if (!read.ok) {
    out(formatDiagnostics(read.errors, 'text'));
    return undefined;
  }
  const parameters = parseParameterArguments(parameterArguments);
  const spec = applyDefaults(read.spec.value);
  try {
    checkParameters(spec, parameters, (name) => `--param ${name}=<value>`, { required: [] });
  } catch (error) {
    if (error instanceof ParameterError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return substituteParameters(spec, parameters);
}

/**
 * The spec's redshift and postgres sinks in spec order, or only `only`. Throws `UsageError` when
 * the spec has none, or `only` is not one of them (naming those it has).
 */
export function warehouseSinks(spec: ResolvedSpec, only?: string): WarehouseSink[] {
  const sinks = Object.entries(spec.sinks).filter((entry): entry is WarehouseSink => entry[1].type === 'redshift' || entry[1].type === 'postgres');
  if (sinks.length === 0) throw new UsageError(`spec ${spec.name} has no redshift or postgres sink`);
  if (only === undefined) return sinks;
  const found = sinks.find(([id]) => id === only);
  if (found === undefined) {
    const other = Object.hasOwn(spec.sinks, only) ? ` (${only} is a ${spec.sinks[only]!.type} sink, which does not load in batches)` : '';
    throw new UsageError(`sink ${only} is not a redshift or postgres sink of ${spec.name}${other}; its warehouse sinks: ${sinks.map(([id]) => id).join(', ')}`);
  }
  return [found];
}

