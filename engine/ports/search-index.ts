/**
 * The `SearchIndex` port: where the Elasticsearch and OpenSearch sinks send `_bulk` request bodies.
 * The HTTP adapter here talks to a cluster with `fetch` (TLS verification always on, as Node's
 * default); `engine/local/file-search-index.ts` stands in for it in `ingest run --local`.
 */

/** The answer to one `_bulk` request, before it is interpreted. */
export interface BulkAnswer {
  /** HTTP status of the whole request. */
  status: number;
  /** The response body as text; interpreted by the sink, which tolerates anything (not JSON, truncated). */
  body: string;
}

/** Adds authentication headers to a request about to be sent. May reject (a secret cannot be read). */
export type RequestAuthorizer = (request: OutgoingRequest) => Promise<Record<string, string>>;

/** A request as the authorizer sees it: enough to compute a SigV4 signature. */
export interface OutgoingRequest {
  method: 'POST';
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
}

export interface SearchIndex {
  /**
   * Sends one `_bulk` body (NDJSON, ending with `\n`). Resolves with the HTTP status and body for
   * any answer the server gives, error statuses included; rejects when no answer arrives (the
   * connection fails or is reset, `timeoutMs` passes, the authorizer rejects).
   */
  bulk(body: Buffer, timeoutMs: number): Promise<BulkAnswer>;
}

/** `_bulk` of a cluster reached over HTTP(S), with `authorize` adding its credentials to each request. */
export class HttpSearchIndex implements SearchIndex {
  private readonly url: URL;

  constructor(
    endpoint: string,
    private readonly authorize: RequestAuthorizer,
  ) {
    // The endpoint may carry a path (a proxy prefix); `_bulk` goes below it.
    const url = new URL(endpoint);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/_bulk`;
    this.url = url;
  }

  /** The URL requests go to. */
  get bulkUrl(): string {
    return this.url.href;
  }

  async bulk(body: Buffer, timeoutMs: number): Promise<BulkAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    const extra = await this.authorize({ method: 'POST', url: this.url, headers: { ...headers }, body });
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { ...headers, ...extra },
      body,
      signal: AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs))),
    });
    return { status: response.status, body: await response.text() };
  }
}
