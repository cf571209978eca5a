import type { SinkType, StepKind } from '../spec/spec-types.ts';

/** Where a plugin is defined: a module, relative to the repository's root, and the name it exports the plugin under. */
export interface PluginModule {
  readonly module: string;
  readonly name: string;
}

/**
 * Where each step plugin of `registry.ts` lives, so that the bundle of a spec imports only the
 * plugins the spec uses (generator/function-bundle.ts, docs/decisions/0049-per-spec-bundles.md).
 * Complete by its type, like the registry; test/unit/plugin/registry.test.ts checks that each
 * entry names the registry's plugin.
 */
export const STEP_MODULES: { readonly [K in StepKind]: PluginModule } = {
  filter: { module: 'engine/transforms/filter/step.ts', name: 'filterStep' },
  set: { module: 'engine/transforms/set/step.ts', name: 'setStep' },
  template: { module: 'engine/transforms/template/step.ts', name: 'templateStep' },
  rename: { module: 'engine/transforms/rename/step.ts', name: 'renameStep' },
  drop: { module: 'engine/transforms/drop/step.ts', name: 'dropStep' },
  keep: { module: 'engine/transforms/keep/step.ts', name: 'keepStep' },
  default: { module: 'engine/transforms/default/step.ts', name: 'defaultStep' },
  cast: { module: 'engine/transforms/cast/step.ts', name: 'castStep' },
  parse_json: { module: 'engine/transforms/parse_json/step.ts', name: 'parseJsonStep' },
  flatten: { module: 'engine/transforms/flatten/step.ts', name: 'flattenStep' },
  explode: { module: 'engine/transforms/explode/step.ts', name: 'explodeStep' },
  validate: { module: 'engine/transforms/validate/step.ts', name: 'validateStep' },
  dedupe: { module: 'engine/transforms/dedupe/step.ts', name: 'dedupeStep' },
  hash: { module: 'engine/transforms/hash/step.ts', name: 'hashStep' },
};

/** Where each sink plugin of `registry.ts` lives; see `STEP_MODULES`. */
export const SINK_MODULES: { readonly [T in SinkType]: PluginModule } = {
  s3: { module: 'engine/sinks/s3/sink.ts', name: 's3Sink' },
  elasticsearch: { module: 'engine/sinks/search/sink.ts', name: 'elasticsearchSink' },
  opensearch: { module: 'engine/sinks/search/sink.ts', name: 'opensearchSink' },
  redshift: { module: 'engine/sinks/warehouse/sink.ts', name: 'redshiftSink' },
  postgres: { module: 'engine/sinks/warehouse/sink.ts', name: 'postgresSink' },
};
