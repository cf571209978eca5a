/**
 * A bucket the stack creates because a component says `create: true`: encrypted, closed to the
 * public, owner-enforced, reachable only over TLS, and kept when the stack is deleted (it holds
 * the pipeline's data, which a `cloudformation delete-stack` must not take with it).
 */
import type { CfnResource, CfnValue } from './contribution.ts';
import { getAtt, ref, sub } from './intrinsics.ts';

export interface OwnedBucketOptions {
  /** Turn on EventBridge notifications, for an `s3` source that reads the bucket through an EventBridge rule. */
  eventBridge?: boolean;
}

/**
 * The bucket resource and its TLS-only bucket policy, under `bucketId` and `policyId`. `name` is
 * the CloudFormation value of the bucket's name (a literal or an `Fn::Sub` over parameters), or undefined
 * to let CloudFormation name it after the stack.
 */
export function ownedBucket(bucketId: string, policyId: string, name: CfnValue | undefined, options: OwnedBucketOptions = {}): Record<string, CfnResource> {
  const properties: Record<string, CfnValue> = {
    ...(name === undefined ? {} : { BucketName: name }),
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    // Uploads the function abandons (a timeout mid-multipart) would otherwise be billed forever.
    LifecycleConfiguration: { Rules: [{ Id: 'abort-incomplete-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }] },
  };
  if (options.eventBridge) properties.NotificationConfiguration = { EventBridgeConfiguration: { EventBridgeEnabled: true } };
  return {
    [bucketId]: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: properties },
    [policyId]: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: ref(bucketId),
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [getAtt(bucketId, 'Arn'), sub(`\${${bucketId}.Arn}/*`)],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
  };
}
