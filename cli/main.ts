import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../engine/errors.ts';
import { validateCommand } from './commands/validate.ts';
import { OUTPUT_FORMATS } from './output.ts';
import type { OutputFormat } from './output.ts';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number> | number;
}

const out = (text: string) => process.stdout.write(text + '\n');

const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'check specs against the schema and the semantic rules',
    usage: `ingest validate [--format text|json|github] [--strict] <paths...>

Checks each spec file, and every *.yaml/*.yml under each directory, recursively.
Prints one line per problem: path:line:col: error CODE: message, then a summary.

Options:
  --format <f>   text (default), json, or github (GitHub Actions annotations)
  --strict       treat warnings as errors

Exit status: 0 all valid, 1 a spec is invalid, 2 usage or I/O error.`,
    options: { format: { type: 'string', default: 'text' }, strict: { type: 'boolean', default: false } },
    run(paths, values) {
      const format = String(values.format) as OutputFormat;
      if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`unknown --format ${format}; expected one of: ${OUTPUT_FORMATS.join(', ')}`);
      return validateCommand(paths, { format, strict: values.strict === true }, out);
    },
  },
  schema: {
    summary: 'print the JSON Schema of the spec language',
    usage: `ingest schema

Prints ingest.schema.json, the JSON Schema of Ingest specs, for editors and other tools.`,
    options: {},
    run(positionals) {
      if (positionals.length > 0) throw new UsageError('schema takes no arguments');
      process.stdout.write(readFileSync(new URL('../ingest.schema.json', import.meta.url), 'utf8'));
      return 0;
    },
  },
};

function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `Usage: ingest <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'ingest <command> --help' for a command's options.`;
}

/** Runs the command line; resolves to the process exit code. Never lets a user error escape as a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(mainUsage());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`ingest: unknown command '${name}'\n\n${mainUsage()}\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      out(command.usage);
      return 0;
    }
    return await command.run(positionals, values as Record<string, string | boolean | undefined>);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      process.stderr.write(`ingest ${name}: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}

function isParseArgsError(error: unknown): boolean {
  return typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS_');
}
