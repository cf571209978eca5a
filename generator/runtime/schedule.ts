/**
 * The sweep: when a sink batches across invocations, a batch must be loaded once its oldest file
 * is `max_seconds` old even when no new record arrives to notice. An EventBridge schedule invokes
 * the function (the engine recognises the `Scheduled Event` and runs every sink's maintenance)
 * at the rate of the smallest `max_seconds`, in whole minutes rounded down (EventBridge's finest
 * rate is one minute), so no batch waits a whole period longer than its threshold.
 */
import type { Contribution, RuntimeGenerator } from '../contribution.ts';
import { sinksBatchingAcrossInvocations } from './ledger.ts';

export const SWEEP_RULE_ID = 'SweepSchedule';

/** The schedule expression for the smallest time threshold of the spec's sinks, in seconds. */
export function sweepRate(smallestMaxSeconds: number): string {
  const minutes = Math.max(1, Math.floor(smallestMaxSeconds / 60));
  return minutes === 1 ? 'rate(1 minute)' : `rate(${minutes} minutes)`;
}

export const schedule: RuntimeGenerator = {
  feature: 'schedule',
  contribute({ spec, core }): Contribution {
    const sinks = sinksBatchingAcrossInvocations(spec);
    if (sinks.length === 0) return {};
    const smallest = Math.min(...sinks.map((sink) => sink.maxSeconds));
    return {
      resources: {
        [SWEEP_RULE_ID]: {
          Type: 'AWS::Events::Rule',
          Properties: {
            Description: `Sweeps the batches of ${sinks.map((sink) => sink.id).join(', ')} (pipeline ${spec.name}) so time thresholds fire without new records`,
            ScheduleExpression: sweepRate(smallest),
            State: 'ENABLED',
            Targets: [{ Id: 'sweep', Arn: { 'Fn::GetAtt': [core.function, 'Arn'] } }],
          },
        },
        [`${SWEEP_RULE_ID}Permission`]: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: { Ref: core.function },
            Principal: 'events.amazonaws.com',
            SourceArn: { 'Fn::GetAtt': [SWEEP_RULE_ID, 'Arn'] },
          },
        },
      },
    };
  },
};
