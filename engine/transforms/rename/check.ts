import type { CheckContext } from '../../plugin/checks.ts';
import { renameEntries, renameProblems, type RenameConfig } from './plan.ts';

/**
 * Entries of one `rename` step that cannot run together (the same target twice, targets or
 * sources one inside the other), reported at the later entry's key, as the step would refuse
 * them when it compiles.
 */
export function checkRenameStep(config: RenameConfig, context: CheckContext): void {
  for (const problem of renameProblems(renameEntries(config))) {
    context.report([problem.key], 'invalid-value', problem.message, { target: 'key' });
  }
}
