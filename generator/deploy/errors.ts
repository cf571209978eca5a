/** Why a deploy (or the upload before it) stopped; the CLI prints `message` and exits 1. */
export type DeployErrorCode = 'upload-failed' | 'parameters' | 'change-set-failed' | 'execute-failed' | 'timed-out';

/** A deploy that could not go on: CloudFormation or S3 said no, or the user's parameters do not fit the template. */
export class DeployError extends Error {
  override name = 'DeployError';
  constructor(readonly code: DeployErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
