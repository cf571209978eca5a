/**
 * A local stand-in for an Elasticsearch/OpenSearch cluster's `_bulk` endpoint, implemented as the
 * Elasticsearch reference documents it: NDJSON bodies of action (and source) lines; a response
 * with `took`, `errors` and one item per operation in order, each with its own `status`; 201 for a
 * new document and 200 for a replaced one; 404 on deleting a missing document; 409 on creating an
 * existing id and on a stale external version; 400 `invalid_index_name_exception` for index names
 * Elasticsearch forbids. It keeps the documents it accepted so that tests assert the index's final
 * contents, and faults can be injected: whole-request statuses (429, 5xx, 413), bodies that are not
 * JSON, slow answers, connection resets, and per-item errors chosen by a function.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stored document. */
export interface StoredDocument {
  source: Record<string, unknown>;
  version: number;
  /** Present when written with `version_type: external`. */
  externalVersion?: bigint;
  routing?: string;
}

/** One operation as the server parsed it, for item faults and assertions. */
export interface ReceivedOperation {
  action: 'index' | 'create' | 'update' | 'delete';
  index: string;
  id: string | undefined;
  meta: Record<string, unknown>;
  source: Record<string, unknown> | undefined;
}

/** A fault answering one whole request instead of processing it. */
export type RequestFault =
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'not-json' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number };

/** An error for one item instead of applying it: `{ status, type, reason }`. */
export interface ItemFault {
  status: number;
  type: string;
  reason: string;
}

/** A received request, headers lower-cased. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface BulkServerOptions {
  /** Bodies larger than this answer 413 (Elasticsearch's `http.max_content_length`). */
  maxBodyBytes?: number;
  /** Decides whether a request is authorized; a `false` answers 403. */
  authorize?: (request: ReceivedRequest) => boolean | Promise<boolean>;
}

export class BulkServer {
  /** Documents by index, then id. */
  readonly indices = new Map<string, Map<string, StoredDocument>>();
  readonly requests: ReceivedRequest[] = [];
  /** Faults answering the next requests, in order, one each. */
  readonly requestFaults: RequestFault[] = [];
  /** Per-item fault: return one to fail the item; called for every operation of every request. */
  itemFault: ((operation: ReceivedOperation) => ItemFault | undefined) | undefined;
  private nextGeneratedId = 1;
  private readonly tombstones = new Map<string, bigint>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: BulkServerOptions,
  ) {}

  /** Starts a server on 127.0.0.1 on a free port. */
  static async start(options: BulkServerOptions = {}): Promise<BulkServer> {
    let instance: BulkServer | undefined;
    const server = createServer((request, response) => {
      void instance!.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    instance = new BulkServer(server, `http://127.0.0.1:${port}`, options);
    return instance;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The documents of `index` as `id → source`. */
  documents(index: string): Record<string, Record<string, unknown>> {
    const documents: Record<string, Record<string, unknown>> = {};
    for (const [id, document] of this.indices.get(index) ?? []) documents[id] = document.source;
    return documents;
  }

  /** Every operation the server received, across requests, in order (retries included). */
  operations(): ReceivedOperation[] {
    return this.requests.flatMap((request) => parseOperations(request.body.toString('utf8')).operations);
  }

  /** Forgets documents, requests and faults. */
  reset(): void {
    this.indices.clear();
    this.tombstones.clear();
    this.requests.length = 0;
    this.requestFaults.length = 0;
    this.itemFault = undefined;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
    const received: ReceivedRequest = { method: request.method ?? '', url: request.url ?? '', headers, body: Buffer.concat(chunks) };
    this.requests.push(received);

    const fault = this.requestFaults.shift();
    if (fault?.kind === 'reset') {
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'status') return send(response, fault.status, fault.body ?? JSON.stringify({ error: { type: 'injected', reason: `injected ${fault.status}` }, status: fault.status }));
    if (fault?.kind === 'not-json') return send(response, 200, '<html><body>502 Bad Gateway</body></html>', 'text/html');

    if (this.options.authorize && !(await this.options.authorize(received))) {
      return send(response, 403, JSON.stringify({ message: 'The request signature we calculated does not match the signature you provided.' }));
    }
    if (request.method !== 'POST' || !/\/_bulk$/.test(new URL(received.url, 'http://x').pathname)) {
      return send(response, 404, JSON.stringify({ error: 'no handler', status: 404 }));
    }
    if (this.options.maxBodyBytes !== undefined && received.body.length > this.options.maxBodyBytes) {
      return send(response, 413, '');
    }
    const parsed = parseOperations(received.body.toString('utf8'));
    if (parsed.problem) return send(response, 400, JSON.stringify({ error: { type: 'illegal_argument_exception', reason: parsed.problem }, status: 400 }));

    const items = parsed.operations.map((operation) => ({ [operation.action]: this.apply(operation) }));
    const errors = items.some((item) => Object.values(item)[0]!.error !== undefined);
    send(response, 200, JSON.stringify({ took: 1, errors, items }));
  }

  private apply(operation: ReceivedOperation): Record<string, unknown> {
    const { action, index, meta } = operation;
    const id = operation.id ?? (action === 'index' || action === 'create' ? `generated-${this.nextGeneratedId++}` : undefined);
    const base = { _index: index, _id: id };
    const failure = (status: number, type: string, reason: string) => ({ ...base, status, error: { type, reason, index } });
    const indexProblem = invalidIndexName(index);
    if (indexProblem) return failure(400, 'invalid_index_name_exception', `Invalid index name [${index}], ${indexProblem}`);
    if (id === undefined) return failure(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;');
    const injected = this.itemFault?.(operation);
    if (injected) return failure(injected.status, injected.type, injected.reason);

    let documents = this.indices.get(index);
    if (!documents) this.indices.set(index, (documents = new Map()));
    const existing = documents.get(id);
    const external = meta.version_type === 'external' ? BigInt(String(meta.version)) : undefined;
    // A versioned delete leaves a tombstone with its version (Elasticsearch keeps it for
    // `index.gc_deletes`), so a stale write arriving after the delete is refused too.
    const current = existing?.externalVersion ?? this.tombstones.get(`${index}\0${id}`);
    if (external !== undefined && current !== undefined && external <= current) {
      return failure(409, 'version_conflict_engine_exception', `[${id}]: version conflict, current version [${current}] is higher or equal to the one provided [${external}]`);
    }
    const routing = typeof meta.routing === 'string' ? { routing: meta.routing } : {};
    const version = (existing?.version ?? 0) + 1;
    switch (action) {
      case 'create':
      case 'index':
        if (action === 'create' && existing) return failure(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${existing.version}])`);
        documents.set(id, { source: operation.source!, version, ...(external !== undefined ? { externalVersion: external } : {}), ...routing });
        return { ...base, _version: version, result: existing ? 'updated' : 'created', status: existing ? 200 : 201 };
      case 'update': {
        const partial = (operation.source?.doc ?? {}) as Record<string, unknown>;
        if (!existing && operation.source?.doc_as_upsert !== true) return failure(404, 'document_missing_exception', `[${id}]: document missing`);
        documents.set(id, { source: { ...(existing?.source ?? {}), ...partial }, version, ...routing });
        return { ...base, _version: version, result: existing ? 'updated' : 'created', status: existing ? 200 : 201 };
      }
      case 'delete':
        if (external !== undefined) this.tombstones.set(`${index}\0${id}`, external);
        if (!existing) return { ...base, _version: 1, result: 'not_found', status: 404 };
        documents.delete(id);
        return { ...base, _version: version, result: 'deleted', status: 200 };
    }
  }
}

function send(response: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/** Parses a bulk body: action lines, each but `delete` followed by a source line. */
export function parseOperations(text: string): { operations: ReceivedOperation[]; problem?: string } {
  if (text !== '' && !text.endsWith('\n')) return { operations: [], problem: 'The bulk request must be terminated by a newline [\\n]' };
  const lines = text.split('\n').slice(0, -1);
  const operations: ReceivedOperation[] = [];
  for (let line = 0; line < lines.length; line++) {
    let header: Record<string, Record<string, unknown>>;
    try {
      header = JSON.parse(lines[line]!);
    } catch {
      return { operations, problem: `Malformed action/metadata line [${line + 1}]` };
    }
    const [action, meta] = Object.entries(header)[0] ?? [];
    if (action !== 'index' && action !== 'create' && action !== 'update' && action !== 'delete') return { operations, problem: `Unknown action [${action}] at line [${line + 1}]` };
    let source: Record<string, unknown> | undefined;
    if (action !== 'delete') {
      line++;
      try {
        source = JSON.parse(lines[line] ?? '');
      } catch {
        return { operations, problem: `Malformed source line [${line + 1}]` };
      }
    }
    operations.push({ action, index: String(meta!._index), id: meta!._id === undefined ? undefined : String(meta!._id), meta: meta!, source });
  }
  return { operations };
}

/** Elasticsearch's index name rules (`MetadataCreateIndexService.validateIndexOrAliasName`). */
function invalidIndexName(name: string): string | undefined {
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (/[\\/*?"<>| ,#:]/.test(name)) return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]';
  if (/^[-_+]/.test(name)) return "must not start with '_', '-', or '+'";
  if (name === '.' || name === '..' || name === '') return "must not be '.' or '..'";
  return undefined;
}
