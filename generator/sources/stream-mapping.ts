/**
 * What the stream sources (Kinesis, DynamoDB Streams) share in the stack: the Lambda event source
 * mapping with every option the spec exposes, the SQS queue Lambda sends the description of a
 * batch it gave up on to (records past `max_attempts` or `max_record_age_seconds`), and the
 * alarms that say a source is falling behind or dropping records. Mirrors
 * `engine/sources/stream-settings.ts`.
 */
import type { CfnResource, CfnValue, Contribution, GeneratorContext } from '../contribution.ts';
import { getAtt, ref } from '../intrinsics.ts';

/** The settings both stream sources have, as resolved. */
export interface StreamSourceSettings {
  starting_position: 'latest' | 'trim_horizon' | 'at_timestamp';
  starting_timestamp?: string;
  batch: { max_records: number; max_seconds: number };
  parallelization: number;
  retry?: { max_attempts?: number; max_record_age_seconds?: number; bisect_on_error: boolean };
}

const STARTING_POSITIONS = { latest: 'LATEST', trim_horizon: 'TRIM_HORIZON', at_timestamp: 'AT_TIMESTAMP' } as const;

// SQS keeps a message at most 14 days: the longest an operator has to look at a discarded batch.
const FAILED_RETENTION_SECONDS = 1_209_600;
// Without a record age limit, warn after an hour behind: a day (the default retention) is when records are lost.
const DEFAULT_AGE_ALARM_MS = 3_600_000;

/**
 * The mapping from `eventSourceArn` to the function, its on-failure queue, the role's right to
 * send to that queue, and alarms on iterator age and on the queue's depth. `filters` are Lambda
 * event filter patterns (objects), written as the mapping's `FilterCriteria`.
 */
export function streamMapping(id: string, config: StreamSourceSettings, context: GeneratorContext, eventSourceArn: CfnValue, filters: readonly object[] = []): Contribution {
  const mappingId = context.logicalId(id, 'Mapping');
  const queueId = context.logicalId(id, 'FailedQueue');
  const properties: Record<string, CfnValue> = {
    FunctionName: ref(context.core.function),
    EventSourceArn: eventSourceArn,
    StartingPosition: STARTING_POSITIONS[config.starting_position],
    BatchSize: config.batch.max_records,
    MaximumBatchingWindowInSeconds: config.batch.max_seconds,
    ParallelizationFactor: config.parallelization,
    BisectBatchOnFunctionError: config.retry?.bisect_on_error ?? false,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    DestinationConfig: { OnFailure: { Destination: getAtt(queueId, 'Arn') } },
  };
  if (config.starting_position === 'at_timestamp' && config.starting_timestamp !== undefined) {
    // The mapping takes Unix seconds; the spec an RFC 3339 date-time (checked by the schema's format).
    properties.StartingPositionTimestamp = Date.parse(config.starting_timestamp) / 1000;
  }
  // Omitted limits keep AWS's defaults (-1, unlimited), which the schema documents.
  if (config.retry?.max_attempts !== undefined) properties.MaximumRetryAttempts = config.retry.max_attempts;
  if (config.retry?.max_record_age_seconds !== undefined) properties.MaximumRecordAgeInSeconds = config.retry.max_record_age_seconds;
  if (filters.length > 0) properties.FilterCriteria = { Filters: filters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })) };

  const age = config.retry?.max_record_age_seconds;
  const ageThreshold = age !== undefined && age > 0 ? (age * 1000) / 2 : DEFAULT_AGE_ALARM_MS;
  const resources: Record<string, CfnResource> = {
    // The role must hold its statements before Lambda validates the mapping against it.
    [mappingId]: { Type: 'AWS::Lambda::EventSourceMapping', DependsOn: [context.core.role], Properties: properties },
    [queueId]: {
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: FAILED_RETENTION_SECONDS, SqsManagedSseEnabled: true },
    },
    // Lambda reports IteratorAge per function, not per mapping: with several stream sources each alarm
    // watches the oldest record of any of them, and its name says which source it was made for.
    [context.logicalId(id, 'IteratorAgeAlarm')]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: `Source ${id} of ${context.spec.name}: the oldest record waiting to be processed is older than ${ageThreshold / 1000} seconds`,
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: ref(context.core.function) }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 5,
        Threshold: ageThreshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    },
    [context.logicalId(id, 'FailedAlarm')]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: `Source ${id} of ${context.spec.name}: Lambda gave up on records (retries or record age exhausted); their positions are in the queue of output ${context.logicalId(id, 'FailedQueueUrl')}`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: getAtt(queueId, 'QueueName') }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      },
    },
  };
  return {
    resources,
    statements: [{ Sid: context.logicalId(id, 'FailedQueue', 'Send'), Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [getAtt(queueId, 'Arn')] }],
    outputs: { [context.logicalId(id, 'FailedQueueUrl')]: { Description: `Queue of the batches source ${id} gave up on`, Value: ref(queueId) } },
  };
}
