import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../engine/errors.ts';
import { cloudFormationClient, s3Client } from '../../generator/deploy/aws-clients.ts';
import type { AwsTarget } from '../../generator/deploy/aws-clients.ts';
import { deployStack } from '../../generator/deploy/deploy-stack.ts';
import { publishFunction } from '../../generator/deploy/publish.ts';
import { templateLocation } from '../../generator/deploy/template-location.ts';
import { displayPath } from '../files.ts';
import { reportPackagingError } from './deploy-failure.ts';
import { printPackage } from './package.ts';

export interface DeployOptions extends AwsTarget {
  stackName?: string;
  bucket?: string;
  prefix?: string;
  /** `--parameter name=value` arguments, as given. */
  parameters: readonly string[];
  /** False for `--no-execute`. */
  execute: boolean;
}

const STACK_NAME = /^[A-Za-z][-A-Za-z0-9]{0,127}$/;

/**
 * `ingest deploy <spec> --stack-name S --bucket B ...`: packages the spec, uploads the zip, and
 * deploys the template through a change set (see `deployStack`). Resolves to 0 when the stack
 * holds the template (or nothing changed, or `--no-execute` left the change set for review), 1
 * when the spec is invalid or the deploy failed, 2 when AWS cannot be reached as configured.
 */
export async function deployCommand(positionals: readonly string[], options: DeployOptions, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('deploy needs exactly one spec file');
  if (!options.stackName) throw new UsageError('deploy needs --stack-name <name>');
  if (!STACK_NAME.test(options.stackName)) throw new UsageError(`--stack-name ${options.stackName}: a stack name starts with a letter and holds only letters, digits and hyphens, at most 128`);
  if (!options.bucket) throw new UsageError('deploy needs --bucket <bucket> for the function package');
  const parameters = parseParameters(options.parameters);
  const spec = positionals[0]!;
  const work = await mkdtemp(join(tmpdir(), 'ingest-deploy-'));
  try {
    const s3 = s3Client(options);
    const published = await publishFunction(spec, work, displayPath(spec), { s3, bucket: options.bucket, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
    printPackage(spec, published.packaged, published.zip, out);
    out(`${published.code.uploaded ? 'uploaded' : 'already uploaded (same content)'} s3://${published.code.bucket}/${published.code.key}`);
    for (const note of published.notes) err(`note: ${note}`);

    const template = await templateLocation(published.templateText, s3, options.bucket, options.prefix);
    const outcome = await deployStack(cloudFormationClient(options), {
      stackName: options.stackName,
      template,
      declaredParameters: published.template.Parameters ?? {},
      parameters,
      execute: options.execute,
      out,
    });
    return outcome.status === 'failed' ? 1 : 0;
  } catch (error) {
    return reportPackagingError('deploy', spec, error, out, err);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `name=value` arguments as a map; a name given twice is a mistake, not an override. */
function parseParameters(argumentsGiven: readonly string[]): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const argument of argumentsGiven) {
    const separator = argument.indexOf('=');
    if (separator <= 0) throw new UsageError(`--parameter takes name=value, got ${argument}`);
    const name = argument.slice(0, separator);
    if (parameters.has(name)) throw new UsageError(`--parameter ${name} is given twice`);
    parameters.set(name, argument.slice(separator + 1));
  }
  return parameters;
}
