import type { RecordMeta, RecordValue } from '../../../engine/pipeline/record.ts';
import type { Invocation, Step, StepEnvironment, StepPlugin, StepResult } from '../../../engine/plugin/types.ts';
import { RecordError } from '../../../engine/plugin/types.ts';
import { resolvedStepConfig } from '../../support/resolved-config.ts';

/** A Kinesis record's meta with fixed, readable values; override what a test cares about. */
export function aMeta(overrides: Partial<RecordMeta> = {}): RecordMeta {
  return {
    event: 'kinesis',
    source: 'orders',
    arrival_time: '2026-11-27T10:00:00Z',
    position: 'shardId-000000000000/49590338271490256608559692538361571095921575989136588898',
    stream: 'orders',
    shard: 'shardId-000000000000',
    sequence: '49590338271490256608559692538361571095921575989136588898',
    partition_key: 'pk',
    ...overrides,
  } as RecordMeta;
}

/** A fresh invocation: empty state, a fixed clock. */
export function anInvocation(overrides: Partial<Invocation> = {}): Invocation {
  return { state: new Map(), now: new Date('2026-11-27T12:34:56Z'), requestId: 'request-1', deadline: Date.now() + 60_000, ...overrides };
}

/** A compile environment with the given spec files (path → text) and parameter values. */
export function anEnvironment(options: { files?: Record<string, string>; parameters?: Record<string, string> } = {}): StepEnvironment {
  const files = new Map(Object.entries(options.files ?? {}));
  return {
    files: { exists: (path) => files.has(path), read: (path) => files.get(path) },
    parameters: options.parameters ?? {},
  };
}

/**
 * Compiles a step plugin's config, written as in a spec (fields with defaults may be left out),
 * resolved first as `ingest package` does, with a default environment.
 */
export function compile<Config>(plugin: StepPlugin<Config>, config: Partial<Config> | Config, environment: StepEnvironment = anEnvironment()): Step {
  return plugin.compile(resolvedStepConfig(plugin.kind, config) as Config, environment);
}

/** Runs one record through a compiled step in a fresh invocation. */
export function run(step: Step, record: RecordValue, invocation: Invocation = anInvocation(), meta: RecordMeta = aMeta()): StepResult {
  return step(record, meta, invocation);
}

/** The `RecordError` a call throws; fails the test when it throws nothing or something else. */
export function recordErrorOf(action: () => unknown): RecordError {
  try {
    action();
  } catch (error) {
    if (error instanceof RecordError) return error;
    throw error;
  }
  throw new Error('expected a RecordError, but nothing was thrown');
}
