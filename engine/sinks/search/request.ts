/**
 * Bulk request building for the search sinks: one record becomes one bulk operation (an action
 * line and, except for deletes, a source line), rendered and checked when the record arrives so
 * that a document that can never be written is rejected while the pipeline still holds it.
 */
import type { RecordMeta, RecordValue } from '../../pipeline/record.ts';
import { compileTemplate } from '../../template/index.ts';
import type { CompiledTemplate } from '../../template/index.ts';

export type BulkAction = 'index' | 'create' | 'update' | 'delete';

/** What the sink's `action` may be: a bulk action, or `auto` (delete for DynamoDB removes, index otherwise). */
export type ConfiguredAction = BulkAction | 'auto';

/** The largest external version Elasticsearch and OpenSearch accept: a signed 64-bit integer. */
export const MAX_VERSION = 9_223_372_036_854_775_807n;
/** Elasticsearch's limit on a document id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 512;
/** Elasticsearch's limit on an index name, in UTF-8 bytes. */
export const MAX_INDEX_NAME_BYTES = 255;

// Characters an index name may not contain (Elasticsearch's `MetadataCreateIndexService`): `\ / * ? " < > | , #`,
// space and `:` (refused since 7.0).
const FORBIDDEN_INDEX_CHARACTERS = /[\\/*?"<>|,# :]/;

/**
 * Why Elasticsearch and OpenSearch would refuse `name` as an index name, or `undefined` when they
 * accept it: empty, `.` or `..`, upper case, a forbidden character, a leading `-`, `_` or `+`, or
 * longer than 255 bytes.
 */
export function indexNameProblem(name: string): string | undefined {
  if (name === '') return 'an index name cannot be empty';
  if (name === '.' || name === '..') return `an index name cannot be ${JSON.stringify(name)}`;
  if (name !== name.toLowerCase()) return `index name ${JSON.stringify(name)} has upper-case letters; index names must be lower case`;
  const forbidden = FORBIDDEN_INDEX_CHARACTERS.exec(name);
  if (forbidden) return `index name ${JSON.stringify(name)} contains ${forbidden[0] === ' ' ? 'a space' : JSON.stringify(forbidden[0])}, which index names cannot hold`;
  if (/^[-_+]/.test(name)) return `index name ${JSON.stringify(name)} starts with ${JSON.stringify(name[0])}; index names cannot start with -, _ or +`;
  if (Buffer.byteLength(name) > MAX_INDEX_NAME_BYTES) return `index name ${JSON.stringify(name.slice(0, 40))}... is ${Buffer.byteLength(name)} bytes; at most ${MAX_INDEX_NAME_BYTES} are allowed`;
  return undefined;
}

/**
 * Why `text` (a rendered version template) is not an external version, or `undefined` when it is
 * one: decimal digits only, at most 2^63 - 1. Returned so the caller words the rejection.
 */
export function versionProblem(text: string): string | undefined {
  if (!/^[0-9]{1,19}$/.test(text)) return `version ${JSON.stringify(text.slice(0, 40))} is not a non-negative integer of at most 19 digits`;
  if (BigInt(text) > MAX_VERSION) return `version ${text} exceeds 2^63 - 1, the largest external version`;
  return undefined;
}

/** One bulk operation, encoded, with what the sink needs to settle and order it. */
export interface BulkOperation {
  readonly action: BulkAction;
  /** The action line and, except for deletes, the source line; each ends with `\n`. */
  readonly text: string;
  /** `text` in UTF-8 bytes. */
  readonly bytes: number;
  /** `index` and id, joined by NUL: writes to one document keep their order. Absent when the cluster assigns the id. */
  readonly key: string | undefined;
  /** Whether the operation carries an external version (a 409 then means a newer write is already indexed). */
  readonly versioned: boolean;
  /** The record as JSON: a failure after `add` returned dead-letters the document itself. */
  readonly recordJson: string;
}

/** Thrown by `OperationBuilder.build` for a record that can never be indexed; the message says why. */
export class DocumentRejectedError extends Error {
  override name = 'DocumentRejectedError';
}

/** The fields of a search sink that shape its bulk operations. */
export interface OperationSettings {
  index: string;
  id?: string | undefined;
  routing?: string | undefined;
  version?: string | undefined;
  pipeline?: string | undefined;
  action: ConfiguredAction;
  maxBytes: number;
}

/**
 * Renders records into bulk operations. Templates compile once (`create`); `build` renders them
 * per record and throws `DocumentRejectedError` for a record whose index, id, routing or version
 * does not render or renders to something the cluster refuses, for a delete without an id, and
 * for an operation larger than `max_bytes`.
 */
export class OperationBuilder {
  private readonly index: CompiledTemplate;
  private readonly id: CompiledTemplate | undefined;
  private readonly routing: CompiledTemplate | undefined;
  private readonly version: CompiledTemplate | undefined;
  private readonly staticIndex: boolean;

  constructor(private readonly settings: OperationSettings) {
    this.index = compileTemplate(settings.index);
    this.staticIndex = !settings.index.includes('{{');
    this.id = settings.id === undefined ? undefined : compileTemplate(settings.id);
    this.routing = settings.routing === undefined ? undefined : compileTemplate(settings.routing);
    this.version = settings.version === undefined ? undefined : compileTemplate(settings.version);
  }

  /** The bulk operation of one record. */
  build(record: RecordValue, meta: RecordMeta, now: Date): BulkOperation {
    const context = { record, meta, now };
    const action = this.settings.action === 'auto' ? (meta.event === 'dynamodb' && meta.event_name === 'remove' ? 'delete' : 'index') : this.settings.action;

    const index = render(this.index, context, 'index');
    // A static name was checked by `ingest validate`; a rendered one is checked per record.
    if (!this.staticIndex) {
      const problem = indexNameProblem(index);
      if (problem !== undefined) throw new DocumentRejectedError(problem);
    }
    let header = `{"_index":${JSON.stringify(index)}`;
    let key: string | undefined;
    if (this.id !== undefined) {
      const id = render(this.id, context, 'id');
      if (id === '') throw new DocumentRejectedError('the id template renders to an empty string; a document id cannot be empty');
      if (id.length * 3 > MAX_ID_BYTES && Buffer.byteLength(id) > MAX_ID_BYTES) throw new DocumentRejectedError(`the document id is ${Buffer.byteLength(id)} bytes; at most ${MAX_ID_BYTES} are allowed`);
      header += `,"_id":${JSON.stringify(id)}`;
      key = `${index}\0${id}`;
    } else if (action !== 'index' && action !== 'create') {
      throw new DocumentRejectedError(`a ${action} needs a document id, and the sink has no id template`);
    }
    if (this.routing !== undefined) {
      const routing = render(this.routing, context, 'routing');
      if (routing === '') throw new DocumentRejectedError('the routing template renders to an empty string');
      header += `,"routing":${JSON.stringify(routing)}`;
    }
    let versioned = false;
    if (this.version !== undefined) {
      // A delete whose record cannot render a version (a DynamoDB remove under `image: new` holds
      // only the keys) is sent unversioned: it deletes whatever version is indexed, and a stream
      // replays changes in order, so an older change redelivered before it is deleted again.
      const version = action === 'delete' ? renderOptional(this.version, context) : render(this.version, context, 'version');
      if (version !== undefined) {
        const problem = versionProblem(version);
        if (problem !== undefined) throw new DocumentRejectedError(problem);
        // Written as digits, never through a JavaScript number: versions reach 2^63 - 1.
        header += `,"version":${version.replace(/^0+(?=\d)/, '')},"version_type":"external"`;
        versioned = true;
      }
    }
    if (this.settings.pipeline !== undefined && (action === 'index' || action === 'create')) header += `,"pipeline":${JSON.stringify(this.settings.pipeline)}`;

    let recordJson: string | undefined;
    try {
      recordJson = JSON.stringify(record);
    } catch (error) {
      throw new DocumentRejectedError(`the record cannot be written as JSON: ${(error as Error).message}`);
    }
    let text = `{"${action}":${header}}}\n`;
    if (action === 'index' || action === 'create') text += recordJson + '\n';
    else if (action === 'update') text += `{"doc":${recordJson},"doc_as_upsert":true}\n`;

    const bytes = Buffer.byteLength(text);
    if (bytes > this.settings.maxBytes) {
      throw new DocumentRejectedError(`the ${action} operation is ${bytes} bytes, more than batch.max_bytes (${this.settings.maxBytes}) allows in one bulk request`);
    }
    return { action, text, bytes, key, versioned, recordJson };
  }
}

function render(template: CompiledTemplate, context: { record: RecordValue; meta: RecordMeta; now: Date }, field: string): string {
  try {
    return template(context);
  } catch (error) {
    throw new DocumentRejectedError(`the ${field} template does not render: ${(error as Error).message}`, { cause: error });
  }
}

/** The template rendered, or `undefined` when the record lacks what it needs. */
function renderOptional(template: CompiledTemplate, context: { record: RecordValue; meta: RecordMeta; now: Date }): string | undefined {
  try {
    return template(context);
  } catch {
    return undefined;
  }
}

/** The body of one bulk request: its operations' texts, concatenated. */
export function bulkBody(operations: readonly { operation: BulkOperation }[]): Buffer {
  let length = 0;
  for (const entry of operations) length += entry.operation.bytes;
  const body = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const entry of operations) offset += body.write(entry.operation.text, offset);
  return body;
}
