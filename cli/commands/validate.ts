import { UsageError } from '../../engine/errors.ts';
import type { Diagnostic } from '../../engine/spec/diagnostic.ts';
import { readSpec } from '../../engine/spec/read-spec.ts';
import { bucketNotificationsNote } from '../../engine/sources/s3/bucket-notifications.ts';
import { collectSpecFiles, displayPath } from '../files.ts';
import type { OutputFormat } from '../output.ts';
import { formatDiagnostics, formatNote, plural } from '../output.ts';

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
  const notes: { file: string; message: string }[] = [];
  let invalidSpecs = 0;
  for (const file of files) {
    const read = readSpec(file, displayPath(file));
    const found = read.diagnostics;
    if (found.some((d) => d.severity === 'error' || options.strict)) invalidSpecs++;
    diagnostics.push(...found);
    if (read.ok) notes.push(...deploymentNotes(read.spec.value).map((message) => ({ file: displayPath(file), message })));
  }

  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const rendered = formatDiagnostics(diagnostics, options.format);
  if (options.format === 'json') {
    out(rendered);
  } else {
    if (rendered) out(rendered);
    // Not problems of the spec, so no exit status: what its deployment needs that no template can do.
    for (const { file, message } of notes) out(formatNote(file, message, options.format));
    const summary = invalidSpecs === 0
      ? `${plural(files.length, 'spec')} valid${warnings ? `, ${plural(warnings, 'warning')}` : ''}`
      : `${plural(invalidSpecs, 'spec')} of ${files.length} invalid: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
    out(summary);
  }
  return invalidSpecs === 0 ? 0 : 1;
}

/** What deploying a valid spec needs from its owner beyond the stack: each existing bucket an S3 source reads must send EventBridge notifications. */
function deploymentNotes(value: unknown): string[] {
  const sources = (value as { sources?: Record<string, { type?: unknown; bucket?: unknown; create?: boolean }> }).sources ?? {};
  return Object.entries(sources).flatMap(([id, source]) => {
    if (source.type !== 's3' || typeof source.bucket !== 'string') return [];
    const note = bucketNotificationsNote(id, { bucket: source.bucket, ...(source.create === undefined ? {} : { create: source.create }) });
    return note === undefined ? [] : [note];
  });
}
