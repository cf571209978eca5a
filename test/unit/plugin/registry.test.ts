import { describe, expect, it } from 'vitest';
import { SOURCE_CHECKS } from '../../../engine/plugin/checks.ts';
import { SINK_MODULES, STEP_MODULES } from '../../../engine/plugin/plugin-modules.ts';
import type { PluginModule } from '../../../engine/plugin/plugin-modules.ts';
import { SINK_PLUGINS, SINKS_WITHOUT_RUNTIME, STEP_PLUGINS } from '../../../engine/plugin/registry.ts';
import { dispatchEvent } from '../../../engine/sources/dispatch.ts';
import { SINK_TYPES, SOURCE_TYPES, STEP_KINDS } from '../../../engine/spec/spec-types.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { resolvedSource } from '../../support/resolved-config.ts';

// The schema (engine/spec/spec-types.ts, generated from it) and the runtime must name the same
// kinds: a type the schema accepts but the runtime lacks validates and then fails at cold start;
// a plugin the schema does not know can never be configured.

describe('the plugin registry', () => {
  it('has a step plugin for every step kind of the schema, and no other', () => {
    expect([...STEP_PLUGINS.keys()].sort()).toEqual([...STEP_KINDS].sort());
  });

  it.each([...STEP_PLUGINS])('registers the %s step under its own kind', (kind, plugin) => {
    expect(plugin.kind).toBe(kind);
  });

  it('has a sink plugin for every sink type of the schema, except those listed as having no runtime yet', () => {
    const runnable = SINK_TYPES.filter((type) => !SINKS_WITHOUT_RUNTIME.includes(type));

    expect([...SINK_PLUGINS.keys()].sort()).toEqual([...runnable].sort());
  });

  it('lists as without a runtime only sink types the schema has, none of them registered', () => {
    expect(SINKS_WITHOUT_RUNTIME.filter((type) => !SINK_TYPES.includes(type) || SINK_PLUGINS.has(type))).toEqual([]);
  });

  it.each([...SINK_PLUGINS])('registers the %s sink under its own type', (type, plugin) => {
    expect(plugin.type).toBe(type);
  });

  // A function bundle imports plugins from where STEP_MODULES and SINK_MODULES say they are.
  const exported = async ({ module, name }: PluginModule): Promise<unknown> => ((await import(new URL(`../../../${module}`, import.meta.url).href)) as Record<string, unknown>)[name];

  it.each(Object.entries(STEP_MODULES))('finds the %s step where the bundles import it from', async (kind, where) => {
    expect(await exported(where)).toBe(STEP_PLUGINS.get(kind));
  });

  it.each(Object.entries(SINK_MODULES).filter(([type]) => SINK_PLUGINS.has(type)))('finds the %s sink where the bundles import it from', async (type, where) => {
    expect(await exported(where)).toBe(SINK_PLUGINS.get(type));
  });

  it('has semantic checks only for source types the schema has', () => {
    expect(Object.keys(SOURCE_CHECKS).filter((type) => !(SOURCE_TYPES as readonly string[]).includes(type))).toEqual([]);
  });

  // Sources have no plugin object: the dispatcher decodes each type. Each type must reach it.
  const events: Record<(typeof SOURCE_TYPES)[number], { source: Parameters<typeof resolvedSource>[0]; event: unknown }> = {
    s3: { source: { type: 's3', bucket: 'raw' }, event: s3ObjectCreatedEvent([{ bucket: 'raw', key: 'a.jsonl', size: 2 }]) },
    kinesis: { source: { type: 'kinesis', stream: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders' }, event: kinesisEvent('arn:aws:kinesis:us-east-1:123456789012:stream/orders', [Buffer.from('{}')]) },
    dynamodb: {
      source: { type: 'dynamodb', table: 'users', stream_arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000' },
      event: dynamoDbInsertEvent('users', [{ id: 1 }], ['id'], { streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000' }),
    },
  };

  it.each(SOURCE_TYPES)('dispatches events of every source type of the schema: %s', (type) => {
    const { source, event } = events[type];

    const dispatched = dispatchEvent(event, { only: resolvedSource(source) }, new MemoryObjectStore());

    expect(dispatched.kind).toBe(type);
  });
});
