import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';

/**
 * Where the deploy commands reach AWS. Everything else comes from the SDK's default chain, as
 * with the AWS CLI: credentials and region from `AWS_PROFILE` (or the default profile),
 * `AWS_REGION`, and the endpoint from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`, ...).
 */
export interface AwsTarget {
  /** `--endpoint`: one endpoint for every service, over any `AWS_ENDPOINT_URL*` variable (moto, LocalStack). */
  endpoint?: string;
}

/** An S3 client for `target`; path-style whenever an endpoint is set, since emulators do not serve `bucket.host` names. */
export function s3Client(target: AwsTarget): S3Client {
  const custom = Boolean(target.endpoint || process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3);
  return new S3Client({ ...(target.endpoint ? { endpoint: target.endpoint } : {}), forcePathStyle: custom });
}

/** A CloudFormation client for `target`. */
export function cloudFormationClient(target: AwsTarget): CloudFormationClient {
  return new CloudFormationClient(target.endpoint ? { endpoint: target.endpoint } : {});
}
