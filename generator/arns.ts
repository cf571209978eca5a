/**
 * ARNs the generator modules scope IAM statements to, built from spec values that may hold
 * parameter references (`GeneratorContext.value`), in the stack's partition.
 */
import type { CfnValue } from './contribution.ts';
import { sub } from './intrinsics.ts';

/**
 * The objects of `bucket` whose keys start with `prefix`: `arn:<partition>:s3:::<bucket>/<prefix>*`.
 * A literal `*` or `?` in the prefix is written as the IAM policy variable `${*}`/`${?}`, so it
 * matches itself instead of widening the statement.
 */
export function s3ObjectsArn(bucket: CfnValue, prefix: CfnValue): CfnValue {
  const literalPrefix = typeof prefix === 'string' ? prefix.replace(/[*?]/g, (wildcard) => `\${${wildcard}}`) : prefix;
  return sub('arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}*', { Bucket: bucket, Prefix: literalPrefix });
}

/** The bucket itself, for bucket-level actions (`s3:ListBucket`): `arn:<partition>:s3:::<bucket>`. */
export function s3BucketArn(bucket: CfnValue): CfnValue {
  return sub('arn:${AWS::Partition}:s3:::${Bucket}', { Bucket: bucket });
}
