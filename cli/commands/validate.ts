import { UsageError } from '../../engine/errors.ts';
import type { Diagnostic } from '../../engine/spec/diagnostic.ts';
import { readSpec } from '../../engine/spec/read-spec.ts';
import { collectSpecFiles, displayPath } from '../files.ts';
import type { OutputFormat } from '../output.ts';
import { formatDiagnostics, plural } from '../output.ts';

export interface ValidateOptions {
  format: OutputFormat;
  strict: boolean;
}

/** `ingest validate <paths...>`: returns the exit code (0 valid, 1 invalid); throws UsageError for I/O problems. */
export function validateCommand(paths: readonly string[], options: ValidateOptions, out: (text: string) => void): number {
  if (paths.length === 0) throw new UsageError('validate needs at least one file or directory');
  const files = collectSpecFiles(paths);
  if (files.length === 0) throw new UsageError(`no *.yaml or *.yml files found in ${paths.join(', ')}`);

  const diagnostics: Diagnostic[] = [];
  let invalidSpecs = 0;
  for (const file of files) {
    const found = readSpec(file, displayPath(file)).diagnostics;
    if (found.some((d) => d.severity === 'error' || options.strict)) invalidSpecs++;
    diagnostics.push(...found);
  }

  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const rendered = formatDiagnostics(diagnostics, options.format);
  if (options.format === 'json') {
    out(rendered);
  } else {
    if (rendered) out(rendered);
    const summary = invalidSpecs === 0
      ? `${plural(files.length, 'spec')} valid${warnings ? `, ${plural(warnings, 'warning')}` : ''}`
      : `${plural(invalidSpecs, 'spec')} of ${files.length} invalid: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
    out(summary);
  }
  return invalidSpecs === 0 ? 0 : 1;
}
