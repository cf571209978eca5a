import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../../engine/observe.ts';
import { runMaintenance } from '../../../engine/pipeline/maintenance.ts';
import type { CompiledSink } from '../../../engine/pipeline/pipeline.ts';
import type { Invocation, MaintenanceReport, Sink } from '../../../engine/plugin/types.ts';
import { FAILED_LOAD_LOG_LINES, FAILED_LOAD_PATTERN } from '../../../generator/runtime/alarms.ts';
import { generateTemplate } from '../../../generator/template.ts';
import { exampleSpecs, featureSpecs } from '../../support/generator-specs.ts';

const specs = [...exampleSpecs(), ...featureSpecs()];
const byName = (name: string) => specs.find((entry) => entry.name === name)!.spec;

const report = (failed: MaintenanceReport['failed']): MaintenanceReport => ({ sealed: [], loaded: [], failed, resumed: [], deadLettered: 0, pending: [] });

/** The log lines the runtime's maintenance writes for these sinks, parsed. */
async function maintenanceLogs(maintain: Record<string, () => Promise<MaintenanceReport>>): Promise<{ level: string; message: string }[]> {
  const lines: string[] = [];
  const sinks = Object.entries(maintain).map(([id, run]): CompiledSink => ({ id, onError: 'retry', sink: { maintain: run } as unknown as Sink }));
  await runMaintenance(sinks, 'schedule', {
    pipeline: 'p',
    invocation: { state: new Map(), now: new Date(0), requestId: 'r', deadline: Date.now() + 60_000 } as unknown as Invocation,
    logger: jsonLogger({ level: 'info', requestId: 'r', pipeline: 'p', write: (line) => lines.push(line) }),
    openDeadLetters: () => {
      throw new Error('no dead letters in this test');
    },
    notifier: undefined,
    notifyOn: new Set(),
  });
  return lines.map((line) => JSON.parse(line) as { level: string; message: string });
}

const failedLoadLine = (line: { level: string; message: string }) => FAILED_LOAD_LOG_LINES.some(({ level, message }) => line.level === level && line.message === message);

describe('the failed-loads alarm', () => {
  it('counts the lines the runtime logs when a load fails or maintenance fails whole, and no others', async () => {
    const logs = await maintenanceLogs({
      failing: async () => report([{ batch: 3, error: 'column "x" does not exist' }]),
      unreachable: async () => {
        throw new Error('ledger unreachable');
      },
      healthy: async () => ({ ...report([]), loaded: [{ batch: 1, rows: 10, duplicates: 0, ms: 5, ageSeconds: 60 }] }),
    });

    expect(logs.map(failedLoadLine)).toEqual([true, true, false]);
  });

  it('filters the function log group with a pattern built from those lines', () => {
    const template = generateTemplate(byName('redshift-workgroup'));

    expect(template.Resources.FailedLoadsMetricFilter!.Properties).toMatchObject({ LogGroupName: { Ref: 'FunctionLogGroup' }, FilterPattern: FAILED_LOAD_PATTERN });
    expect(FAILED_LOAD_PATTERN).toBe('{ ($.level = "warn" && $.message = "sink maintenance") || ($.level = "error" && $.message = "sink maintenance failed; a later run takes it up") }');
    expect(template.Resources.FailedLoadsAlarm!.Properties).toMatchObject({ MetricName: 'FailedLoads', Namespace: { 'Fn::Sub': 'Ingest/${AWS::StackName}' } });
  });

  it('is not made for a pipeline without warehouse loads', () => {
    expect(generateTemplate(byName('examples/kinesis-archive.yaml')).Resources).not.toHaveProperty('FailedLoadsAlarm');
  });
});
