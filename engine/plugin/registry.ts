import { s3Sink } from '../sinks/s3/sink.ts';
import { elasticsearchSink, opensearchSink } from '../sinks/search/sink.ts';
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

/** Every step kind of the spec language, in one literal list. */
export const STEP_PLUGINS: ReadonlyMap<string, StepPlugin> = new Map(
  [filterStep, setStep, templateStep, renameStep, dropStep, keepStep, defaultStep, castStep, parseJsonStep, flattenStep, explodeStep, validateStep, dedupeStep, hashStep].map((plugin) => [plugin.kind, plugin]),
);

/** Sinks with a runtime. The others (redshift, postgres) validate and test, but do not run yet. */
export const SINK_PLUGINS: ReadonlyMap<string, SinkPlugin> = new Map([s3Sink, elasticsearchSink, opensearchSink].map((plugin) => [plugin.type, plugin]));
