import type { SourceConfig } from '../../spec/spec-types.ts';

/**
 * The fields of a resolved `dynamodb` source that decoding reads (engine/spec/spec-types.ts,
 * `ResolvedDynamodbSource`), defaults applied. `table` names `meta.table` only when the event
 * source ARN names none. See docs/decisions/0005-dynamodb-numbers.md for `image`.
 */
export type DynamoDbDecodeConfig = Pick<SourceConfig<'dynamodb'>, 'table' | 'events' | 'image'>;
