/**
 * Alarms of the pipeline as a whole: the function's errors (an invocation that failed whole: the
 * batch is retried) and throttles (records wait), dead letters written by any component (metrics
 * the runtime emits in Embedded Metric Format, namespace `Ingest`, per pipeline and component),
 * and failed warehouse loads (counted from the function's logs). Per-source alarms (iterator age, queue age, DLQ depth) come from the sources'
 * modules. Alarms have no actions: where they go (a pager, a chat channel) is the operator's.
 */
import type { CfnResource, CfnValue, Contribution, RuntimeGenerator } from '../contribution.ts';
import { sinksBatchingAcrossInvocations } from './ledger.ts';

const PERIOD_SECONDS = 300;

/**
 * The log lines of failed loads, as the runtime writes them (engine/pipeline/maintenance.ts): a
 * maintenance report that lists failed batches (level warn), and a maintenance run that failed
 * whole (level error). The runtime emits no metric of its own for them, so a metric filter counts
 * these lines; test/unit/generator/alarms.test.ts holds them to what the runtime logs.
 */
export const FAILED_LOAD_LOG_LINES = [
  { level: 'warn', message: 'sink maintenance' },
  { level: 'error', message: 'sink maintenance failed; a later run takes it up' },
] as const;

/** The CloudWatch Logs filter pattern that matches `FAILED_LOAD_LOG_LINES`. */
export const FAILED_LOAD_PATTERN = `{ ${FAILED_LOAD_LOG_LINES.map(({ level, message }) => `($.level = "${level}" && $.message = "${message}")`).join(' || ')} }`;

export const alarms: RuntimeGenerator = {
  feature: 'alarms',
  contribute({ spec, core }): Contribution {
    const functionMetric = (metric: string, description: string): CfnResource => ({
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: `${spec.name}: ${description}`,
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: core.function } }],
        Statistic: 'Sum',
        Period: PERIOD_SECONDS,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    });
    // Dead letters are counted per component; one Metrics Insights query sums them over the pipeline.
    const deadLetters: Record<string, CfnValue> = {
      AlarmDescription: `${spec.name}: records were written to the dead letter`,
      Metrics: [
        {
          Id: 'deadLetters',
          Expression: `SELECT SUM(RecordsDeadLettered) FROM SCHEMA(Ingest, Component, Pipeline) WHERE Pipeline = '${spec.name}'`,
          Period: PERIOD_SECONDS,
          ReturnData: true,
        },
      ],
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    };
    return {
      resources: {
        FunctionErrorsAlarm: functionMetric('Errors', 'invocations failed whole, so their batches are retried'),
        FunctionThrottlesAlarm: functionMetric('Throttles', 'invocations were throttled, so records wait'),
        DeadLettersAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: deadLetters },
        ...failedLoads(spec.name, core.logGroup, sinksBatchingAcrossInvocations(spec).map((sink) => sink.id)),
      },
    };
  },
};

/** A count of failed loads from the function's logs, per stack, and an alarm on it; nothing without batching sinks. */
function failedLoads(pipeline: string, logGroup: string, sinks: string[]): Record<string, CfnResource> {
  if (sinks.length === 0) return {};
  // Per stack, not per pipeline: two stages of one spec in one account must not share the count.
  const namespace = { 'Fn::Sub': 'Ingest/${AWS::StackName}' };
  return {
    FailedLoadsMetricFilter: {
      Type: 'AWS::Logs::MetricFilter',
      Properties: {
        LogGroupName: { Ref: logGroup },
        FilterPattern: FAILED_LOAD_PATTERN,
        MetricTransformations: [{ MetricNamespace: namespace, MetricName: 'FailedLoads', MetricValue: '1', Unit: 'Count' }],
      },
    },
    FailedLoadsAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: `${pipeline}: a load of ${sinks.join(', ')} failed; see ingest batches`,
        Namespace: namespace,
        MetricName: 'FailedLoads',
        Statistic: 'Sum',
        Period: PERIOD_SECONDS,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    },
  };
}
