import { UsageError } from '../../engine/errors.ts';
import { readSpec } from '../../engine/spec/read-spec.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { runSpecTests } from '../../engine/testing/run-spec-tests.ts';
import { collectSpecFiles, displayPath } from '../files.ts';
import { formatDiagnostics } from '../output.ts';

/**
 * `ingest test <paths...>`: runs the `tests:` of every spec. A spec that does not validate counts
 * as one failed test. Ends with `N passed, N failed`; returns 1 when anything failed.
 */
export async function testCommand(paths: readonly string[], out: (text: string) => void): Promise<number> {
  if (paths.length === 0) throw new UsageError('test needs at least one file or directory');
  let passed = 0;
  let failed = 0;
  const files = collectSpecFiles(paths);
  // As for validate: a run that tested nothing must not look like a run that passed.
  if (files.length === 0) throw new UsageError(`no *.yaml or *.yml files found in ${paths.join(', ')}`);
  for (const file of files) {
    const shown = displayPath(file);
    const read = readSpec(file, shown);
    if (!read.ok) {
      out(`${shown}: invalid spec, tests not run`);
      out(formatDiagnostics(read.errors, 'text'));
      failed++;
      continue;
    }
    const results = await runSpecTests(read.spec, resolveSpec(read.spec.value), read.files, file);
    if (results.length === 0) {
      out(`${shown}: no tests`);
      continue;
    }
    out(shown);
    for (const result of results) {
      if (result.failures.length === 0) {
        passed++;
        out(`  ✓ ${result.name}`);
      } else {
        failed++;
        out(`  ✗ ${result.name} (${shown}:${result.line})`);
        for (const failure of result.failures) out(failure.split('\n').map((line) => `      ${line}`).join('\n'));
        out('      (- expected, + actual)');
      }
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
