/**
 * Work that spans invocations (docs/decisions/0031-exactly-once-warehouse-loads.md, section 6):
 * the handler runs `Sink.maintain` of batching sinks on the scheduled sweep, after an invocation
 * whose writers sealed a batch, and on demand (local runs flush). This module gives each sink what
 * it needs (dead letters, notifications) and turns its report into a log line.
 */
import type { Logger } from '../observe.ts';
import type { Invocation, MaintenanceContext, MaintenanceReport } from '../plugin/types.ts';
import { InjectedCrash } from '../plugin/types.ts';
import type { Notification, NotificationEvent, Notifier } from '../ports/notifier.ts';
import type { DeadLetter, DeadLetterWriter } from './dead-letters.ts';
import type { CompiledSink } from './pipeline.ts';
import { messageOf } from './outcome.ts';

/** Why maintenance runs: see `MaintenanceContext.reason`. */
export type MaintenanceReason = MaintenanceContext['reason'];

/** Everything one maintenance run uses. */
export interface MaintenanceRun {
  pipeline: string;
  invocation: Invocation;
  logger: Logger;
  /** A fresh dead-letter writer; one is opened per burst of letters and closed when the burst is stored. */
  openDeadLetters: () => DeadLetterWriter;
  notifier: Notifier | undefined;
  /** The events the spec's `notifications.on` lists. */
  notifyOn: ReadonlySet<NotificationEvent>;
}

/**
 * Runs the maintenance of each sink that has one, one sink after another, and resolves to their
 * reports by sink id. A sink whose maintenance rejects (its ledger or warehouse cannot be reached)
 * is logged and left for the next run; an injected crash ends the run as a dying Lambda would.
 */
export async function runMaintenance(sinks: readonly CompiledSink[], reason: MaintenanceReason, run: MaintenanceRun): Promise<Record<string, MaintenanceReport>> {
  const reports: Record<string, MaintenanceReport> = Object.create(null);
  const context: MaintenanceContext = {
    invocation: run.invocation,
    reason,
    logger: run.logger,
    deadLetter: deadLetterBursts(run.openDeadLetters),
    notify: (notification) => notify(run, notification),
  };
  for (const { id, sink } of sinks) {
    if (!sink.maintain) continue;
    const started = performance.now();
    try {
      const report = await sink.maintain(context);
      reports[id] = report;
      if (isIdle(report)) continue;
      run.logger.log(report.failed.length > 0 ? 'warn' : 'info', 'sink maintenance', {
        sink: id,
        reason,
        sealed: report.sealed,
        loaded: report.loaded,
        failed: report.failed,
        resumed: report.resumed,
        dead_lettered: report.deadLettered,
        pending: report.pending,
        duration_ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (error instanceof InjectedCrash) throw error;
      run.logger.log('error', 'sink maintenance failed; a later run takes it up', { sink: id, reason, error: messageOf(error) });
    }
  }
  return reports;
}

function isIdle(report: MaintenanceReport): boolean {
  return report.sealed.length === 0 && report.loaded.length === 0 && report.failed.length === 0
    && report.resumed.length === 0 && report.deadLettered === 0 && report.pending.length === 0;
}

async function notify(run: MaintenanceRun, notification: Notification): Promise<void> {
  if (run.notifier === undefined || !run.notifyOn.has(notification.event)) return;
  await run.notifier.publish(run.pipeline, notification);
}

/**
 * `MaintenanceContext.deadLetter`: letters given in the same turn of the event loop share one
 * writer, closed on the next turn, so that a sink quarantining many rows with `Promise.all` writes
 * them as a few objects, and one awaiting each letter still gets each stored.
 */
function deadLetterBursts(open: () => DeadLetterWriter): (letter: DeadLetter) => Promise<void> {
  let burst: DeadLetterWriter | undefined;
  return (letter) => new Promise<void>((resolve, reject) => {
    if (burst === undefined) {
      const writer = open();
      burst = writer;
      setImmediate(() => {
        burst = undefined;
        writer.close().catch(reject);
      });
    }
    const ticket = {
      written: () => resolve(),
      failed: (failure: { message: string }) => reject(new Error(`the dead letter could not be stored: ${failure.message}`)),
    };
    Promise.resolve(burst.add(letter, ticket, MAINTENANCE_ITEM)).catch(reject);
  });
}

/** Maintenance letters belong to no batch item: they are published as they are written. */
const MAINTENANCE_ITEM = { index: -1, staged: false } as const;
