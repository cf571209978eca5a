import { UsageError } from '../../engine/errors.ts';
import { DeployError } from '../../generator/deploy/errors.ts';
import { InvalidSpecError } from '../../generator/package-function.ts';
import { TemplateError } from '../../generator/template.ts';
import { formatDiagnostics } from '../output.ts';

/** What to tell the user about an error of a command that reaches AWS, and the exit status. */
export interface Failure {
  message: string;
  /** 1: the deploy (or upload) failed; 2: the environment is not set up to reach AWS. */
  exitCode: 1 | 2;
}

/**
 * The user-facing form of an error thrown while packaging, uploading or deploying: ours
 * (`DeployError`, `TemplateError`), the SDK's when it finds no region or credentials, or an AWS
 * service's answer. `undefined` for anything else, which is a bug and should surface as one.
 */
export function deployFailure(error: unknown): Failure | undefined {
  if (error instanceof DeployError || error instanceof TemplateError) return { message: error.message, exitCode: 1 };
  if (!(error instanceof Error)) return undefined;
  if (error.message === 'Region is missing' || error.message.startsWith('Region not accepted')) return { message: 'no AWS region: set AWS_REGION, or a region in the profile AWS_PROFILE names', exitCode: 2 };
  if (error.name === 'CredentialsProviderError') return { message: `no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${error.message})`, exitCode: 2 };
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') return { message: `cannot reach AWS: ${error.message} (check --endpoint or AWS_ENDPOINT_URL)`, exitCode: 2 };
  // An answer from an AWS service: its own words name the problem (access denied, no such bucket...).
  if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== undefined) return { message: `${error.name}: ${error.message}`, exitCode: 1 };
  return undefined;
}

/**
 * Reports an error of `ingest package` or `ingest deploy` and resolves to the exit status: an
 * invalid spec prints its diagnostics (1), a missing file is a usage error (thrown,
 * 2), and the failures `deployFailure` knows print one line. Anything else is rethrown: a bug.
 */
export function reportPackagingError(command: string, spec: string, error: unknown, out: (text: string) => void, err: (text: string) => void): 1 | 2 {
  if (error instanceof InvalidSpecError) {
    out(formatDiagnostics(error.diagnostics, 'text'));
    return 1;
  }
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot read ${(error as NodeJS.ErrnoException).path ?? spec}: no such file or directory`);
  const failure = deployFailure(error);
  if (failure === undefined) throw error;
  err(`ingest ${command}: ${failure.message}`);
  return failure.exitCode;
}
