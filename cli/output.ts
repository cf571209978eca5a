import type { Diagnostic } from '../engine/spec/diagnostic.ts';

export type OutputFormat = 'text' | 'json' | 'github';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'github'];

/** Renders diagnostics in one of the output formats; text and github end with no trailing newline. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(
        diagnostics.map(({ file, line, column, severity, code, message, instancePath }) => ({ file, line, column, severity, code, message, instancePath })),
        null,
        2,
      );
    case 'github':
      return diagnostics
        .map((d) => `::${d.severity} file=${property(d.file)},line=${d.line},col=${d.column},title=${property(d.code)}::${data(d.message)}`)
        .join('\n');
    case 'text':
      return diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}`).join('\n');
  }
}

/** A note about a file (not a problem of it) in the text or github format: `file: note: message`, or a GitHub notice. */
export function formatNote(file: string, message: string, format: Exclude<OutputFormat, 'json'>): string {
  return format === 'github' ? `::notice file=${property(file)}::${data(message)}` : `${file}: note: ${message}`;
}

// GitHub workflow command escaping: https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
function data(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

function property(text: string): string {
  return data(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
