import { readFileSync } from 'node:fs';
import { UsageError } from '../../engine/errors.ts';
import { loadSpec } from '../../engine/spec/load.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { filesBeside, validateLoadedSpec } from '../../engine/spec/validate.ts';
import { runSpecTests } from '../../engine/testing/run-spec-tests.ts';
import { collectSpecFiles, displayPath, reason } from '../files.ts';
import { formatDiagnostics } from '../output.ts';

/**
 * `ingest test <paths...>`: runs the `tests:` of every spec. A spec that does not validate counts
 * as one failed test. Ends with `N passed, N failed`; returns 1 when anything failed.
 */
export async function testCommand(paths: readonly string[], out: (text: string) => void): Promise<number> {
  if (paths.length === 0) throw new UsageError('test needs at least one file or directory');
  let passed = 0;
  let failed = 0;
  for (const file of collectSpecFiles(paths)) {
    const shown = displayPath(file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${reason(error)}`, { cause: error });
    }
    const loaded = loadSpec(shown, bytes);
    const files = filesBeside(file);
    const diagnostics = loaded.ok ? validateLoadedSpec(loaded.spec, files) : loaded.diagnostics;
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (!loaded.ok || errors.length > 0) {
      out(`${shown}: invalid spec, tests not run`);
      out(formatDiagnostics(errors, 'text'));
      failed++;
      continue;
    }
    const results = await runSpecTests(loaded.spec, resolveSpec(loaded.spec.value), files, file);
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
