import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DeployRequest } from './deploy-stack.ts';
import { uploadHashed } from './upload-code.ts';

/** CloudFormation takes a template of at most this many bytes inline (TemplateBody); a larger one it reads from S3. */
export const INLINE_TEMPLATE_BYTES = 51_200;

/**
 * How to hand `text` to CloudFormation: inline when it fits, else uploaded beside the code as
 * `<prefix>/<sha256>.template.yaml` (skipped when already there) and passed as a path-style S3
 * URL of the client's region, the form CloudFormation accepts for every bucket name. Throws what
 * `uploadHashed` throws.
 */
export async function templateLocation(text: string, s3: S3Client, bucket: string, prefix?: string): Promise<DeployRequest['template']> {
  const bytes = Buffer.from(text);
  if (bytes.length <= INLINE_TEMPLATE_BYTES) return { body: text };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const stored = await uploadHashed(s3, { name: `${sha256}.template.yaml`, sha256, bytes, contentType: 'application/x-yaml' }, bucket, prefix);
  const key = stored.key.split('/').map(encodeURIComponent).join('/');
  return { url: `https://s3.${await s3.config.region()}.amazonaws.com/${stored.bucket}/${key}` };
}
