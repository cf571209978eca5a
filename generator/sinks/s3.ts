/**
 * What an `s3` sink adds to the stack (beside `engine/sinks/s3/`): the right to write objects
 * under the literal start of its key template only, and the bucket when the spec says `create`.
 */
import { literalPrefix } from '../../engine/sinks/s3/check.ts';
import { s3ObjectsArn } from '../arns.ts';
import type { Contribution, SinkGenerator } from '../contribution.ts';
import { ownedBucket } from '../owned-bucket.ts';

export const s3SinkGenerator: SinkGenerator<'s3'> = {
  type: 's3',
  contribute(id, config, context) {
    const bucket = context.value(config.bucket);
    // Every key the template renders starts with its text before the first `{{`; objects are
    // written whole (PutObject) or in parts (multipart, which PutObject covers but for its abort).
    const objects = s3ObjectsArn(bucket, context.value(literalPrefix(config.key)));
    return {
      resources: config.create ? ownedBucket(context.logicalId(id, 'Bucket'), context.logicalId(id, 'BucketPolicy'), bucket) : {},
      statements: [{ Sid: context.logicalId(id, 'WriteObjects'), Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: [objects] }],
    } satisfies Contribution;
  },
};
