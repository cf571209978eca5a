/**
 * Alarms of the pipeline as a whole: the function's errors (an invocation that failed whole: the
 * batch is retried) and throttles (records wait), and dead letters written by any component
 * (metrics the runtime emits in Embedded Metric Format, namespace `Ingest`, per pipeline and
 * component). Per-source alarms (iterator age, queue age, DLQ depth) come from the sources'
 * modules. Alarms have no actions: where they go (a pager, a chat channel) is the operator's.
 */
import type { CfnResource, CfnValue, Contribution, RuntimeGenerator } from '../contribution.ts';

const PERIOD_SECONDS = 300;

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
      },
    };
  },
};
