import type { CheckContext } from '../../plugin/checks.ts';
import type { TableSinkSettings } from '../sql/check.ts';
import { checkTableSink } from '../sql/check.ts';

/** Offline checks of a Redshift sink beyond its schema. */
export function checkRedshiftSink(config: TableSinkSettings, context: CheckContext): void {
  checkTableSink(config, 'redshift', context);
}
