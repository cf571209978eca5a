import { s3Sink } from '../sinks/s3/sink.ts';
import { elasticsearchSink, opensearchSink } from '../sinks/search/sink.ts';
import { postgresSink, redshiftSink } from '../sinks/warehouse/sink.ts';
import type { SinkType, StepConfig, StepKind } from '../spec/spec-types.ts';
import { castStep } from '../transforms/cast/step.ts';
import { dedupeStep } from '../transforms/dedupe/step.ts';
import { defaultStep } from '../transforms/default/step.ts';
import { dropStep } from '../transforms/drop/step.ts';
import { explodeStep } from '../transforms/explode/step.ts';
import { filterStep } from '../transforms/filter/step.ts';
import { flattenStep } from '../transforms/flatten/step.ts';
import { hashStep } from '../transforms/hash/step.ts';
import { keepStep } from '../transforms/keep/step.ts';
import { parseJsonStep } from '../transforms/parse_json/step.ts';
import { renameStep } from '../transforms/rename/step.ts';
import { setStep } from '../transforms/set/step.ts';
import { templateStep } from '../transforms/template/step.ts';
import { validateStep } from '../transforms/validate/step.ts';
import type { SinkPlugin, StepPlugin } from './types.ts';

/**
 * Every step kind of the spec language, in one literal list. Its type makes it complete (a step
 * kind the schema gains does not compile until it has a plugin) and makes each plugin take the
 * generated config of its kind; test/unit/plugin/registry.test.ts checks each plugin's `kind`.
 */
const STEPS: { readonly [K in StepKind]: StepPlugin<StepConfig<K>> } = {
  filter: filterStep,
  set: setStep,
  template: templateStep,
  rename: renameStep,
  drop: dropStep,
  keep: keepStep,
  default: defaultStep,
  cast: castStep,
  parse_json: parseJsonStep,
  flatten: flattenStep,
  explode: explodeStep,
  validate: validateStep,
  dedupe: dedupeStep,
  hash: hashStep,
};

/** Every step kind, by kind. */
export const STEP_PLUGINS: ReadonlyMap<string, StepPlugin> = new Map(Object.values(STEPS).map((plugin: StepPlugin) => [plugin.kind, plugin]));

/** Sinks with a runtime, by type. The others (`SINKS_WITHOUT_RUNTIME`) validate and test, but do not run yet. */
export const SINK_PLUGINS: ReadonlyMap<string, SinkPlugin> = new Map([s3Sink, elasticsearchSink, opensearchSink, redshiftSink, postgresSink].map((plugin: SinkPlugin) => [plugin.type, plugin]));

/**
 * Sink types of the schema that have no runtime yet: `ingest package` refuses them, `ingest run`
 * runs them only with `--local` (their records go to a file). Kept in step with `SINK_PLUGINS`
 * by test/unit/plugin/registry.test.ts.
 */
export const SINKS_WITHOUT_RUNTIME: readonly SinkType[] = [];
