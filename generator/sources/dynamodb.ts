/**
 * What a `dynamodb` source adds to the stack (beside `engine/sources/dynamodb/`): the event source
 * mapping with its on-failure queue and alarms (stream-mapping.ts), an event filter for the change
 * kinds in `events`, and read access to exactly the table's stream.
 */
import type { Contribution, SourceGenerator } from '../contribution.ts';
import { simplified } from '../intrinsics.ts';
import { streamMapping } from './stream-mapping.ts';

const EVENT_NAMES = { insert: 'INSERT', modify: 'MODIFY', remove: 'REMOVE' } as const;

// What Lambda's event source mapping calls on the stream.
const READ_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];

export const dynamodbSourceGenerator: SourceGenerator<'dynamodb'> = {
  type: 'dynamodb',
  contribute(id, config, context) {
    const streamArn = simplified(context.value(config.stream_arn));
    // Changes of kinds the spec does not read never invoke (or bill) the function; the engine
    // drops the same kinds as `filtered` where no filter runs before it (ingest run, ingest test).
    const filters = config.events.length < Object.keys(EVENT_NAMES).length ? [{ eventName: config.events.map((event) => EVENT_NAMES[event]) }] : [];
    const mapping = streamMapping(id, config, context, streamArn, filters);
    return {
      resources: mapping.resources,
      statements: [{ Sid: context.logicalId(id, 'Read'), Effect: 'Allow', Action: READ_ACTIONS, Resource: [streamArn] }, ...(mapping.statements ?? [])],
      outputs: mapping.outputs,
    } satisfies Contribution;
  },
};
