import type { CheckContext } from '../../plugin/checks.ts';
import { indexNameProblem } from './request.ts';

/** The fields of a search sink these checks read (the schema has already passed). */
export interface SearchSinkCheckSettings {
  index: string;
  id?: string;
  version?: string;
  action?: 'index' | 'create' | 'update' | 'delete' | 'auto';
}

// A Handlebars expression (`{{...}}`, `{{{...}}}`, blocks): stands in as a neutral letter when the
// literal text of a template is checked.
const EXPRESSION = /\{\{\{?[\s\S]*?\}?\}\}/g;

/**
 * Offline checks of an `elasticsearch` or `opensearch` sink beyond its schema: an index name the
 * cluster would refuse (the whole name when static, its literal text when templated); an `id`
 * for the actions and versioning that need one; a warning when retries may duplicate documents;
 * `version` with `update`, which external versioning does not support.
 */
export function checkSearchSink(config: SearchSinkCheckSettings, context: CheckContext): void {
  const templated = config.index.includes('{{');
  // Rendered parts vary per record (and are checked per record at run time); literal parts never do.
  const problem = indexNameProblem(templated ? config.index.replace(EXPRESSION, 'a') : config.index);
  if (problem !== undefined && !(templated && problem.includes('bytes'))) {
    context.report(['index'], 'invalid-index-name', templated ? `the literal text of the index template breaks a rule: ${problem.replace(/"[^"]*"/, JSON.stringify(config.index))}` : problem);
  }

  const action = config.action ?? 'auto';
  if (config.id === undefined) {
    if (action === 'update' || action === 'delete') {
      context.report(['action'], 'missing-document-id', `action ${action} needs an \`id\` template naming the document to change`);
    } else if (config.version !== undefined) {
      context.report(['version'], 'missing-document-id', '`version` needs an `id` template: versions order the writes of one document');
    } else {
      context.report([], 'missing-document-id', `without an \`id\` template the cluster assigns ids, so a retried request may index a document twice${action === 'auto' ? ', and DynamoDB removes cannot be deleted' : ''}`, { target: 'key', severity: 'warning' });
    }
  }
  if (config.version !== undefined && action === 'update') {
    context.report(['version'], 'conflicting-fields', '`version` cannot be used with action update: Elasticsearch and OpenSearch do not support external versions on updates; use index');
  }
}
