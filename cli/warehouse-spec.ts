import { UsageError } from '../engine/errors.ts';
import type { ResolvedSpec, SinkConfig } from '../engine/spec/resolved-spec.ts';

/** A sink that loads in batches through the ledger: redshift or postgres. */
export type WarehouseSink = [id: string, config: SinkConfig<'redshift' | 'postgres'>];

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

