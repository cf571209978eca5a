import type { SinkConfig, SourceConfig } from '../../engine/spec/resolved-spec.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import type { Sink, Source } from '../../engine/spec/spec-types.ts';

/**
 * Source and sink configs as the engine receives them, for tests that call a decoder or a sink
 * directly: written as a user would (fields with defaults may be left out), resolved by the same
 * `applyDefaults` that `ingest package` runs, so a test can never hand the runtime a config that
 * production would not.
 */

const PLACEHOLDER_SOURCE: Source = { type: 'kinesis', stream: 'placeholder' };
const PLACEHOLDER_SINK: Sink = { type: 's3', inputs: ['placeholder'], bucket: 'placeholder', key: 'placeholder/' };

/** A source config resolved: defaults applied, sizes in bytes. */
export function resolvedSource<T extends Source>(source: T): SourceConfig<T['type']> {
  const spec = applyDefaults({ version: 1, name: 'test', sources: { source }, sinks: { sink: PLACEHOLDER_SINK } });
  return spec.sources.source as SourceConfig<T['type']>;
}

/** A sink config resolved: defaults applied, sizes in bytes. */
export function resolvedSink<T extends Sink>(sink: T): SinkConfig<T['type']> {
  const spec = applyDefaults({ version: 1, name: 'test', sources: { source: PLACEHOLDER_SOURCE }, sinks: { sink } });
  return spec.sinks.sink as SinkConfig<T['type']>;
}

/**
 * A step config resolved: what `StepPlugin.compile` receives for `config` written under `kind`
 * (`{}` for `flatten` becomes `{ separator: '_' }`). A config of the wrong shape is passed on
 * unchanged, so tests can still show what compiling one does.
 */
export function resolvedStepConfig(kind: string, config: unknown): unknown {
  const spec = applyDefaults({
    version: 1,
    name: 'test',
    sources: { source: PLACEHOLDER_SOURCE },
    transforms: { transform: { inputs: ['source'], steps: [{ [kind]: config }] } },
    sinks: { sink: PLACEHOLDER_SINK },
  });
  return (spec.transforms!.transform!.steps[0] as unknown as Record<string, unknown>)[kind];
}
