import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../engine/errors.ts';
import { describeReadError, readSpec } from '../../engine/spec/read-spec.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { generateStack, renderTemplate, TemplateError } from '../../generator/template.ts';
import { displayPath } from '../files.ts';
import { formatDiagnostics } from '../output.ts';

export const TEMPLATE_FORMATS = ['yaml', 'json'] as const;
export type TemplateFormat = (typeof TEMPLATE_FORMATS)[number];

export interface GenerateOptions {
  /** Folder to write `<pipeline name>.template.<format>` to; without it the template goes to `out`. */
  outDir?: string;
  format: TemplateFormat;
}

/**
 * `ingest generate <spec> [-o DIR] [--format yaml|json]`: writes the CloudFormation template of a
 * spec to `out` (stdout), or to a file under `outDir` and a line naming it to `out`. Diagnostics
 * and notes go to `err` (stderr), so that stdout holds nothing but the template. Returns 1 when
 * the spec is invalid or two of its parts claim one name in the template; throws `UsageError`
 * for bad arguments and files that cannot be read or written.
 */
export function generateCommand(positionals: readonly string[], options: GenerateOptions, out: (text: string) => void, err: (text: string) => void): number {
  if (positionals.length !== 1) throw new UsageError('generate needs exactly one spec file');
  if (!(TEMPLATE_FORMATS as readonly string[]).includes(options.format)) throw new UsageError(`unknown --format ${options.format}; expected one of: ${TEMPLATE_FORMATS.join(', ')}`);
  const path = positionals[0]!;
  const shown = displayPath(path);
  const read = readSpec(path, shown);
  if (read.diagnostics.length > 0) err(formatDiagnostics(read.diagnostics, 'text'));
  if (!read.ok) return 1;

  const spec = applyDefaults(read.spec.value);
  let stack;
  try {
    stack = generateStack(spec);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    err(`${shown}: error: ${error.message}`);
    return 1;
  }
  const text = renderTemplate(stack.template, options.format);
  if (options.outDir === undefined) {
    // `out` ends what it prints with a newline, as the rendered text already does.
    out(text.slice(0, -1));
  } else {
    const file = join(options.outDir, `${spec.name}.template.${options.format}`);
    try {
      mkdirSync(options.outDir, { recursive: true });
      writeFileSync(file, text);
    } catch (error) {
      throw new UsageError(`cannot write ${file}: ${describeReadError(error)}`, { cause: error });
    }
    out(`wrote ${displayPath(file)}: ${Object.keys(stack.template.Resources).length} resources`);
  }
  for (const note of stack.notes) err(`note: ${note}`);
  return 0;
}
