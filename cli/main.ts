import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../engine/errors.ts';
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
      return import('./commands/validate.ts').then(({ validateCommand }) => validateCommand(paths, { format, strict: values.strict === true }, out));
    },
  },
  test: {
    summary: "run the specs' own test cases, in memory, without AWS",
    usage: `ingest test <paths...>

Runs the tests: of each spec file, and of every *.yaml/*.yml under each directory.
Sinks are captured in memory and compared with each case's expect; nothing touches AWS.
Parameters without a default take the value test-<name>; 'now' is 2026-01-01T00:00:00Z.
Ends with the line 'N passed, N failed'.

Exit status: 0 all passed, 1 a test failed or a spec is invalid, 2 usage or I/O error.`,
    options: {},
    run: (paths) => import('./commands/test.ts').then(({ testCommand }) => testCommand(paths, out)),
  },
  run: {
    summary: 'invoke the pipeline in-process on an event or local input files',
    usage: `ingest run <spec> --event <file.json> [--local] [--param name=value ...]
ingest run <spec> --local --input <source>=<file> [--input ...]

Runs the Lambda handler in this process.
  --event <file>           a Lambda event as AWS delivers it (Kinesis, DynamoDB Streams, SQS, S3, SNS)
  --local                  no AWS: objects are files under .ingest/s3/<bucket>/<key>; redshift and
                           postgres sinks load into a local PostgreSQL (PGlite) in .ingest/pglite/
  --input <source>=<file>  with --local: the file becomes the event of that source (an S3 object,
                           or one Kinesis record / DynamoDB insert per line)
  --param <name>=<value>   a parameter value (declared defaults fill the rest); a parameter that
                           the run needs and that has no default must be given
  --verbose                print the handler's JSON logs and metrics to stderr

Without --local the handler talks to AWS; AWS_ENDPOINT_URL points it elsewhere (moto).
A spec without a dead_letter bucket writes dead letters to .ingest/s3/dead-letters/ with --local,
else to the bucket named by INGEST_DEAD_LETTER_BUCKET (the one the stack creates).
Prints the outcome counts per component and the objects written.

Exit status: 0 all records settled, 1 records failed or the spec is invalid, 2 usage or I/O error.`,
    options: {
      event: { type: 'string' },
      local: { type: 'boolean', default: false },
      input: { type: 'string', multiple: true, default: [] },
      param: { type: 'string', multiple: true, default: [] },
      verbose: { type: 'boolean', default: false },
    },
    run: async (positionals, values) => {
      const { runCommand } = await import('./commands/run.ts');
      return runCommand(
        positionals,
        {
          ...(typeof values.event === 'string' ? { event: values.event } : {}),
          local: values.local === true,
          inputs: values.input as unknown as string[],
          parameters: values.param as unknown as string[],
          verbose: values.verbose === true,
          workdir: process.cwd(),
        },
        out,
      );
    },
  },
  generate: {
    summary: 'write the CloudFormation template of a spec',
    usage: `ingest generate <spec> [-o <directory>] [--format yaml|json]

Writes the CloudFormation template of the stack the spec declares: the function, its role (least
privilege: every statement names the exact streams, tables, queues, topics and key prefixes),
its log group, event source mappings, queues and rules, the buckets, ledger table and topic the
stack creates, the sweep schedule, alarms, the spec's parameters (NoEcho when secret) and
outputs. The function's code is read from the CodeBucket and CodeKey parameters. The output is
deterministic: the same spec gives the same text, so templates diff well in reviews.
What the template cannot do for you (enable EventBridge on an existing bucket...) is printed to
stderr as notes.

Options:
  -o, --out <dir>   write <dir>/<pipeline name>.template.<format> instead of printing it
  --format <f>      yaml (default) or json

Exit status: 0 generated, 1 the spec is invalid, 2 usage or I/O error.`,
    options: { out: { type: 'string', short: 'o' }, format: { type: 'string', default: 'yaml' } },
    run: async (positionals, values) => {
      const { generateCommand } = await import('./commands/generate.ts');
      return generateCommand(
        positionals,
        { ...(typeof values.out === 'string' ? { outDir: values.out } : {}), format: String(values.format) as 'yaml' | 'json' },
        out,
        (text) => process.stderr.write(`${text}\n`),
      );
    },
  },
  package: {
    summary: 'write the Lambda function package of a spec, zip it, upload it',
    usage: `ingest package <spec> --out <directory> [--zip] [--bucket <bucket> [--prefix <prefix>]]

Writes the function package: the runtime bundled for the spec, with only what it uses (index.mjs,
handler index.handler), spec.json (validated, defaults applied, templates prepared) and
validators.mjs (the JSON Schemas of validate steps compiled to code), so the function compiles
nothing at cold start. Parameters stay references,
filled at run time from INGEST_PARAM_<NAME> environment variables; a spec without a dead_letter
bucket writes dead letters to the bucket named by INGEST_DEAD_LETTER_BUCKET. The function refuses
to start when either is missing. A spec with a sink that the runtime cannot run yet (redshift,
postgres...) is refused with error sink-not-runnable. Prints each file's size and the bundle's.

Options:
  --zip               also write <sha256>.zip: the same package always gives the same bytes
  --bucket <bucket>   zip, upload to s3://<bucket>/<prefix>/<sha256>.zip (skipped when it is
                      already there) and write template.yaml beside the zip, pointing at it
  --prefix <prefix>   key prefix in the bucket
  --endpoint <url>    AWS endpoint (moto, LocalStack); AWS_ENDPOINT_URL, AWS_PROFILE and
                      AWS_REGION are honoured as by the AWS CLI

Exit status: 0 packaged, 1 the spec is invalid or cannot be packaged or uploaded, 2 usage or I/O error.`,
    options: { out: { type: 'string' }, zip: { type: 'boolean', default: false }, bucket: { type: 'string' }, prefix: { type: 'string' }, endpoint: { type: 'string' } },
    run: async (positionals, values) => {
      const { packageCommand } = await import('./commands/package.ts');
      const text = (name: string) => (typeof values[name] === 'string' ? { [name]: values[name] as string } : {});
      return packageCommand(positionals, { ...(typeof values.out === 'string' ? { outDir: values.out } : {}), zip: values.zip === true, ...text('bucket'), ...text('prefix'), ...text('endpoint') }, out, (line) => process.stderr.write(`${line}\n`));
    },
  },
  deploy: {
    summary: 'package, upload and deploy a spec as a CloudFormation stack',
    usage: `ingest deploy <spec> --stack-name <name> --bucket <bucket> [--prefix <prefix>]
       [--parameter <name>=<value> ...] [--no-execute] [--endpoint <url>]

Packages the spec, uploads the zip to the bucket (skipped when unchanged) and deploys the
generated template through a change set: CREATE for a new stack, UPDATE otherwise, with
CAPABILITY_IAM. Prints the change set as a table (action, logical id, type, replacement),
executes it and follows the stack's events until it settles; on failure prints the failed
resources with their reasons. A template without changes is success.

Options:
  --parameter <n>=<v>  a stack parameter, by its spec name (out_bucket) or template name
                       (OutBucket); on an update, parameters not given keep their values
  --no-execute         create and print the change set, leave it for review
  --endpoint <url>     AWS endpoint (moto, LocalStack); AWS_ENDPOINT_URL, AWS_PROFILE and
                       AWS_REGION are honoured as by the AWS CLI

Exit status: 0 deployed (or no changes, or change set left for review), 1 the spec is invalid
or the deploy failed, 2 usage error or AWS not reachable as configured.`,
    options: {
      'stack-name': { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      parameter: { type: 'string', multiple: true, default: [] },
      'no-execute': { type: 'boolean', default: false },
      endpoint: { type: 'string' },
    },
    run: async (positionals, values) => {
      const { deployCommand } = await import('./commands/deploy.ts');
      const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
      return deployCommand(
        positionals,
        {
          ...(text('stack-name') === undefined ? {} : { stackName: text('stack-name')! }),
          ...(text('bucket') === undefined ? {} : { bucket: text('bucket')! }),
          ...(text('prefix') === undefined ? {} : { prefix: text('prefix')! }),
          ...(text('endpoint') === undefined ? {} : { endpoint: text('endpoint')! }),
          parameters: values.parameter as unknown as string[],
          execute: values['no-execute'] !== true,
        },
        out,
        (line) => process.stderr.write(`${line}\n`),
      );
    },
  },
  batches: {
    summary: 'list, show, retry or skip the load batches of redshift and postgres sinks',
    usage: `ingest batches <spec> [list [<sink>]]
ingest batches <spec> show <sink> <batch>
ingest batches <spec> retry <sink> <batch>
ingest batches <spec> skip <sink> <batch> [--reason <text>]

Reads the pipeline's ledger (DynamoDB) of staged files and load batches.
  list    every batch of each redshift/postgres sink: state (open, sealed, loading, loaded,
          failed, skipped), age of its first file, files, records, bytes, load attempts,
          the warehouse statement id and the error of a failed load
  show    one batch in full, with its staged files
  retry   a failed batch goes back to sealed, and the next sweep loads it again; records
          already loaded are not loaded twice. Retry after fixing what made the load fail.
  skip    a sealed or failed batch is never loaded: its records are given up
retry and skip are single conditional writes: safe while loads run.

Options:
  --table <name>      the ledger table [state.table, else INGEST_LEDGER_TABLE]
  --endpoint <url>    AWS endpoint (moto, LocalStack) [AWS_ENDPOINT_URL]; the region is AWS_REGION
  --param <n>=<v>     a parameter value, for a state.table that is a parameter
  --state <s,...>     with list: only batches in these states (failed,loading...)
  --reason <text>     with skip: why, kept in the ledger
  --format <f>        text (default) or json

Exit status: 0 done, 1 the spec is invalid or the batch does not exist or is not in a state that
allows the action, 2 usage error or the ledger cannot be reached.`,
    options: {
      table: { type: 'string' },
      endpoint: { type: 'string' },
      param: { type: 'string', multiple: true, default: [] },
      reason: { type: 'string' },
      state: { type: 'string' },
      format: { type: 'string', default: 'text' },
    },
    run: async (positionals, values) => {
      const format = String(values.format);
      if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format ${format}; expected text or json`);
      const { batchesCommand } = await import('./commands/batches.ts');
      return batchesCommand(positionals, {
        ...(typeof values.table === 'string' ? { table: values.table } : {}),
        ...(typeof values.endpoint === 'string' ? { endpoint: values.endpoint } : {}),
        ...(typeof values.reason === 'string' ? { reason: values.reason } : {}),
        ...(typeof values.state === 'string' ? { state: values.state } : {}),
        format,
        parameters: values.param as unknown as string[],
        environment: process.env,
      }, out);
    },
  },
  sql: {
    summary: 'print the SQL a load of a redshift or postgres sink runs, for review',
    usage: `ingest sql <spec> [<sink>] [--param name=value ...] [--format text|json]

Prints what a load of each redshift and postgres sink of the spec runs (or only <sink>'s): the
state tables (created once, outside loads), then the statements of one batch's load transaction
in order, exactly as the loader builds them: the staging table, COPY, deduplication on record
identity, the append or merge, the loaded ranges and the load ledger row, pre_sql and post_sql.
<batch> stands for the batch number and <load time> for the time of the load; parameters
without a --param value show as \${param.<name>}.

Exit status: 0 printed, 1 the spec is invalid (nothing is printed but its problems), 2 usage error.`,
    options: { param: { type: 'string', multiple: true, default: [] }, format: { type: 'string', default: 'text' } },
    run: async (positionals, values) => {
      const format = String(values.format);
      if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format ${format}; expected text or json`);
      const { sqlCommand } = await import('./commands/sql.ts');
      return sqlCommand(positionals, { parameters: values.param as unknown as string[], format }, out);
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
  return `Usage: ingest <command> [options]\n       ingest --version\n\nCommands:\n${lines.join('\n')}\n\nRun 'ingest <command> --help' for a command's options.`;
}

/** The version of the installed package: package.json sits one folder up from both cli/ and dist/. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Runs the command line; resolves to the process exit code. Never lets a user error escape as a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${mainUsage()}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    out(mainUsage());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    out(`ingest ${version()}`);
    return 0;
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
