/**
 * What a `kinesis` source adds to the stack (beside `engine/sources/kinesis/`): the event source
 * mapping with its on-failure queue and alarms (stream-mapping.ts), the stream itself when the
 * spec says `create`, and read access to exactly that stream.
 */
import type { SourceConfig } from '../../engine/spec/spec-types.ts';
import type { CfnValue, Contribution, GeneratorContext, SourceGenerator } from '../contribution.ts';
import { getAtt, simplified, sub } from '../intrinsics.ts';
import { streamMapping } from './stream-mapping.ts';

const STREAM_ARN = /^arn:[^:]+:kinesis:[^:]+:\d{12}:stream\/(.+)$/;
const PARAMETER_ONLY = /^\$\{param\.[a-z][a-z0-9_]*\}$/;

// What Lambda's event source mapping calls on the stream, including enhanced fan-out's SubscribeToShard.
const READ_ACTIONS = ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards', 'kinesis:SubscribeToShard'];

export const kinesisSourceGenerator: SourceGenerator<'kinesis'> = {
  type: 'kinesis',
  contribute(id, config, context) {
    const created = config.create === undefined ? undefined : createdStream(id, config, context);
    const existing = created ? undefined : existingStreamArn(id, config.stream, context);
    const streamArn = created ? getAtt(created.logicalId, 'Arn') : existing!.arn;
    const mapping = streamMapping(id, config, context, streamArn, config.filter ?? []);
    return {
      resources: { ...created?.resources, ...mapping.resources },
      statements: [{ Sid: context.logicalId(id, 'Read'), Effect: 'Allow', Action: READ_ACTIONS, Resource: [streamArn] }, ...(mapping.statements ?? [])],
      outputs: mapping.outputs,
      conditions: existing?.conditions,
    } satisfies Contribution;
  },
};

function createdStream(id: string, config: SourceConfig<'kinesis'>, context: GeneratorContext) {
  const logicalId = context.logicalId(id, 'Stream');
  const capacity: Record<string, CfnValue> =
    config.create?.shards === undefined ? { StreamModeDetails: { StreamMode: 'ON_DEMAND' } } : { StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: config.create.shards };
  const name = STREAM_ARN.exec(config.stream)?.[1] ?? config.stream;
  return {
    logicalId,
    resources: {
      [logicalId]: {
        Type: 'AWS::Kinesis::Stream',
        Properties: { Name: context.value(name), ...capacity, StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } },
      },
    },
  };
}

/**
 * The ARN of a stream the stack does not own: an ARN as given; a name in the stack's account and
 * region. A parameter may hold either, so the template decides with a condition on its form.
 */
function existingStreamArn(id: string, stream: string, context: GeneratorContext): { arn: CfnValue; conditions?: Record<string, CfnValue> } {
  const value = simplified(context.value(stream));
  const fromName = sub('arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${Name}', { Name: value });
  if (STREAM_ARN.test(stream)) return { arn: value };
  if (!PARAMETER_ONLY.test(stream)) return { arn: fromName };
  const isArn = context.logicalId(id, 'StreamIsArn');
  return {
    arn: { 'Fn::If': [isArn, value, fromName] },
    conditions: { [isArn]: { 'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': [':', value] }] }, 'arn'] } },
  };
}
