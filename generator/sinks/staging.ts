/**
 * The staging location of the sinks that load a SQL table from staged files (redshift, postgres):
 * what the function may do there, and what its owner should know (docs/decisions/0031-exactly-once-warehouse-loads.md).
 */
import type { ResolvedStaging } from '../../engine/spec/spec-types.ts';
import { s3ObjectsArn } from '../arns.ts';
import type { GeneratorContext, IamStatement } from '../contribution.ts';

/** The staging prefix of a sink: `staging.prefix`, else the schema's default `<pipeline name>/<sink id>/`. */
export function stagingPrefix(pipeline: string, id: string, staging: Pick<ResolvedStaging, 'prefix'>): string {
  return staging.prefix ?? `${pipeline}/${id}/`;
}

/**
 * The statement that lets the function write staged files, manifests and jsonpaths documents
 * under the sink's staging prefix and read them back (a rejected row's raw line is read from its
 * staged file), and a note on expiring them: the staging bucket is the user's, not the stack's.
 */
export function stagingAccess(id: string, staging: ResolvedStaging, context: GeneratorContext): { statement: IamStatement; note: string } {
  const prefix = stagingPrefix(context.spec.name, id, staging);
  return {
    statement: {
      Sid: context.logicalId(id, 'Staging'),
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: [s3ObjectsArn(context.value(staging.bucket), context.value(prefix))],
    },
    note:
      `sink ${id}: staged files, manifests and jsonpaths under s3://${staging.bucket}/${prefix} are kept after their load; ` +
      'add a lifecycle rule to that bucket expiring the prefix after a few weeks (longer than you would take to retry a failed batch, and at least 15 days, the redelivery window loads deduplicate over).',
  };
}
