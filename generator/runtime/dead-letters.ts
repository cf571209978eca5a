/**
 * Dead letters: the function may write objects under the literal start of the dead-letter prefix
 * of its bucket, and when the spec names no bucket the stack creates one and passes its name to
 * the function as `INGEST_DEAD_LETTER_BUCKET` (docs/decisions/0025-dead-letter-bucket.md).
 * `create: true` with a named bucket makes the stack create that bucket.
 */
import { DEAD_LETTER_BUCKET_VARIABLE } from '../../engine/function-environment.ts';
import { literalPrefix } from '../../engine/sinks/s3/check.ts';
import { s3ObjectsArn } from '../arns.ts';
import type { CfnResource, CfnValue, Contribution, RuntimeGenerator } from '../contribution.ts';
import { ref } from '../intrinsics.ts';
import { ownedBucket } from '../owned-bucket.ts';

/** Logical id of the dead-letter bucket the stack creates. */
export const DEAD_LETTER_BUCKET_ID = 'DeadLetterBucket';

export const deadLetters: RuntimeGenerator = {
  feature: 'dead_letters',
  contribute({ spec, value }): Contribution {
    const { bucket, prefix, create } = spec.dead_letter;
    const created = bucket === undefined || create;
    const name: CfnValue = created ? ref(DEAD_LETTER_BUCKET_ID) : value(bucket);
    // Every dead-letter key starts with the text of the prefix template before its first `{{`.
    const write = { Sid: 'WriteDeadLetters', Effect: 'Allow' as const, Action: ['s3:PutObject'], Resource: [s3ObjectsArn(name, value(literalPrefix(prefix)))] };
    if (!created) return { statements: [write] };
    return {
      resources: deadLetterBucket(bucket === undefined ? undefined : value(bucket)),
      ...(bucket === undefined ? { environment: { [DEAD_LETTER_BUCKET_VARIABLE]: name } } : {}),
      statements: [write],
      outputs: { DeadLetterBucketName: { Description: 'Bucket the function writes dead letters to', Value: name } },
      notes: bucket === undefined ? ['the spec names no dead_letter bucket: the stack creates one (output DeadLetterBucketName) and keeps it when the stack is deleted'] : [],
    };
  },
};

/** The bucket, named by the spec or (without a name) by CloudFormation after the stack, so two stacks of one spec never clash. */
function deadLetterBucket(name: CfnValue | undefined): Record<string, CfnResource> {
  return ownedBucket(DEAD_LETTER_BUCKET_ID, `${DEAD_LETTER_BUCKET_ID}Policy`, name);
}
