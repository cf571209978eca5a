/**
 * What an `s3` source adds to the stack (beside `engine/sources/s3/`): an EventBridge rule for
 * `Object Created` in the bucket under the prefix and suffix, delivering to an SQS queue (with a
 * dead-letter queue and redrive) that feeds the function through an event source mapping with
 * partial batch responses. Unlike S3 event notifications this works for buckets outside the stack,
 * creates no cycle (bucket, permission, function, role) and cannot overwrite a bucket's other
 * notifications. A bucket the stack creates gets EventBridge notifications turned on; an existing
 * one needs them turned on by its owner, which a note says.
 */
import type { SourceConfig } from '../../engine/spec/spec-types.ts';
import { s3ObjectsArn } from '../arns.ts';
import type { CfnResource, CfnValue, Contribution, GeneratorContext, SourceGenerator } from '../contribution.ts';
import { getAtt, ref, simplified, sub } from '../intrinsics.ts';
import { ownedBucket } from '../owned-bucket.ts';
import { bucketNotificationsNote } from '../../engine/sources/s3/bucket-notifications.ts';

// A message read this many times without succeeding goes to the dead-letter queue: enough for
// throttling and timeouts to pass, few enough that a poison message does not cycle for a day.
const MAX_RECEIVE_COUNT = 5;
const DEAD_LETTER_RETENTION_SECONDS = 1_209_600;
// Lambda needs the visibility timeout to be at least the function's timeout; AWS advises six times
// it, so that retries of a throttled batch do not make the message visible again. SQS allows 12 hours.
const VISIBILITY_FACTOR = 6;
const MAX_VISIBILITY_SECONDS = 43_200;
// Events older than 15 minutes mean the function is not keeping up (or failing every message).
const BACKLOG_ALARM_SECONDS = 900;

export const s3SourceGenerator: SourceGenerator<'s3'> = {
  type: 's3',
  contribute(id, config, context) {
    const bucket = simplified(context.value(config.bucket));
    const ruleId = context.logicalId(id, 'Rule');
    const queueId = context.logicalId(id, 'Queue');
    const deadLetterId = context.logicalId(id, 'DeadLetterQueue');
    const visibility = Math.min(MAX_VISIBILITY_SECONDS, VISIBILITY_FACTOR * context.spec.runtime.timeout_seconds);

    const resources: Record<string, CfnResource> = {
      ...(config.create ? ownedBucket(context.logicalId(id, 'Bucket'), context.logicalId(id, 'BucketPolicy'), bucket, { eventBridge: true }) : {}),
      [ruleId]: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: `Objects created in ${config.bucket} for source ${id} of ${context.spec.name}`,
          State: 'ENABLED',
          EventPattern: objectCreatedPattern(config, bucket, context),
          Targets: [{ Id: 'queue', Arn: getAtt(queueId, 'Arn') }],
        },
      },
      [queueId]: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          VisibilityTimeout: visibility,
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetterId, 'Arn'), maxReceiveCount: MAX_RECEIVE_COUNT },
        },
      },
      [deadLetterId]: {
        Type: 'AWS::SQS::Queue',
        Properties: { MessageRetentionPeriod: DEAD_LETTER_RETENTION_SECONDS, SqsManagedSseEnabled: true },
      },
      [context.logicalId(id, 'QueuePolicy')]: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [ref(queueId)],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'EventsFromTheRuleOnly',
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: getAtt(queueId, 'Arn'),
                Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId, 'Arn') } },
              },
            ],
          },
        },
      },
      [context.logicalId(id, 'Mapping')]: {
        Type: 'AWS::Lambda::EventSourceMapping',
        // The role must hold its statements before Lambda validates the mapping against it.
        DependsOn: [context.core.role],
        Properties: {
          FunctionName: ref(context.core.function),
          EventSourceArn: getAtt(queueId, 'Arn'),
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ...queueConcurrency(context),
        },
      },
      [context.logicalId(id, 'BacklogAlarm')]: queueAlarm(
        `Source ${id} of ${context.spec.name}: an object-created event has waited more than ${BACKLOG_ALARM_SECONDS} seconds in its queue`,
        'ApproximateAgeOfOldestMessage',
        getAtt(queueId, 'QueueName'),
        BACKLOG_ALARM_SECONDS,
      ),
      [context.logicalId(id, 'DeadLetterAlarm')]: queueAlarm(
        `Source ${id} of ${context.spec.name}: object-created events failed ${MAX_RECEIVE_COUNT} times and wait in its dead-letter queue; redrive them once the cause is fixed`,
        'ApproximateNumberOfMessagesVisible',
        getAtt(deadLetterId, 'QueueName'),
        0,
      ),
    };

    const queueArn = getAtt(queueId, 'Arn');
    const notes: string[] = [];
    const reserved = context.spec.runtime.reserved_concurrency;
    if (reserved !== undefined && reserved < 2 * s3SourceCount(context)) {
      notes.push(`source ${id}: Lambda polls an SQS queue with at least 2 concurrent invocations, more than the function's reserved_concurrency (${reserved}) leaves per S3 source: throttled batches count as failed receives and may reach its dead-letter queue`);
    }
    const notifications = bucketNotificationsNote(id, config);
    if (notifications !== undefined) notes.push(notifications);
    return {
      resources,
      statements: [
        { Sid: context.logicalId(id, 'ReadObjects'), Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: [s3ObjectsArn(bucket, context.value(config.prefix))] },
        { Sid: context.logicalId(id, 'ReceiveEvents'), Effect: 'Allow', Action: ['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], Resource: [queueArn] },
      ],
      outputs: {
        [context.logicalId(id, 'QueueUrl')]: { Description: `Queue of the object-created events of source ${id}`, Value: ref(queueId) },
        [context.logicalId(id, 'DeadLetterQueueUrl')]: { Description: `Events of source ${id} that failed ${MAX_RECEIVE_COUNT} times`, Value: ref(deadLetterId) },
      },
      notes,
    } satisfies Contribution;
  },
};

/**
 * With reserved concurrency, the mapping must not poll faster than the function may run: a batch
 * Lambda throttles goes back to the queue and counts as a receive, so throttling alone would move
 * events to the dead-letter queue after `MAX_RECEIVE_COUNT` tries. The reserved concurrency is
 * shared among the S3 sources (Lambda's floor for `MaximumConcurrency` is 2).
 */
function queueConcurrency(context: GeneratorContext): { ScalingConfig?: CfnValue } {
  const reserved = context.spec.runtime.reserved_concurrency;
  if (reserved === undefined) return {};
  return { ScalingConfig: { MaximumConcurrency: Math.min(1000, Math.max(2, Math.floor(reserved / s3SourceCount(context)))) } };
}

function s3SourceCount(context: GeneratorContext): number {
  return Object.values(context.spec.sources).filter((source) => source.type === 's3').length;
}

function queueAlarm(description: string, metric: string, queueName: CfnValue, threshold: number): CfnResource {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      Namespace: 'AWS/SQS',
      MetricName: metric,
      Dimensions: [{ Name: 'QueueName', Value: queueName }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
  };
}

/**
 * The EventBridge pattern of the objects the source reads. S3 writes `detail.object.key`
 * URL-encoded in form style (`a b=c` → `a+b%3Dc`, see `engine/sources/s3/event.ts`), so literal
 * prefixes and suffixes are matched in that form. AWS does not say which of `! ' ( ) * ~` it
 * leaves alone; a text holding one is matched in both spellings. Prefix and suffix together
 * need one `wildcard` matcher: matchers in one list are alternatives, not conditions.
 */
export function objectCreatedPattern(config: Pick<SourceConfig<'s3'>, 'prefix' | 'suffix'>, bucket: CfnValue, context: Pick<GeneratorContext, 'value'>): CfnValue {
  const detail: Record<string, CfnValue> = { bucket: { name: [bucket] } };
  const key = keyMatchers(config.prefix, config.suffix ?? '', context);
  if (key.length > 0) detail.object = { key };
  return { source: ['aws.s3'], 'detail-type': ['Object Created'], detail };
}

function keyMatchers(prefix: string, suffix: string, context: Pick<GeneratorContext, 'value'>): CfnValue[] {
  if (prefix === '' && suffix === '') return [];
  const prefixes = eventKeyForms(prefix, context);
  const suffixes = eventKeyForms(suffix, context);
  if (suffix === '') return prefixes.map((form) => ({ prefix: form }));
  if (prefix === '') return suffixes.map((form) => ({ suffix: form }));
  const matchers: CfnValue[] = [];
  for (const start of prefixes) {
    for (const end of suffixes) matchers.push({ wildcard: sub('${Start}*${End}', { Start: escapeWildcard(start), End: escapeWildcard(end) }) });
  }
  return matchers;
}

/** The spellings of a key fragment in S3's events; a fragment with a parameter reference is taken as written. */
function eventKeyForms(text: string, context: Pick<GeneratorContext, 'value'>): CfnValue[] {
  const value = context.value(text);
  if (typeof value !== 'string') return [value];
  const lenient = formEncode(value, (segment) => encodeURIComponent(segment));
  const strict = formEncode(value, (segment) => encodeURIComponent(segment).replace(/[!'()*~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`));
  return lenient === strict ? [lenient] : [lenient, strict];
}

function formEncode(text: string, encode: (segment: string) => string): string {
  return text
    .split('/')
    .map((segment) => encode(segment).replace(/%20/g, '+'))
    .join('/');
}

/** A literal for an EventBridge `wildcard` matcher, where `*` and `\` need a backslash. */
function escapeWildcard(value: CfnValue): CfnValue {
  return typeof value === 'string' ? value.replace(/[\\*]/g, (character) => `\\${character}`) : value;
}
