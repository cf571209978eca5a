import type { CheckContext } from '../../plugin/checks.ts';
import type { TableSinkSettings } from '../sql/check.ts';
import { checkBatchWindow, checkTableSink } from '../sql/check.ts';

/** Offline checks of a PostgreSQL sink beyond its schema. */
export function checkPostgresSink(config: TableSinkSettings & { batch?: { max_seconds?: number } }, context: CheckContext): void {
  checkTableSink(config, 'postgres', context);
  checkBatchWindow(config, context);
}
