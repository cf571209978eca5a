import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy; give `url` to an SDK client as its `endpoint`. */
export interface SerializingProxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts an HTTP proxy on 127.0.0.1 to `target` (moto) that forwards one request at a time.
 * moto applies an UpdateItem in several steps without a lock, so two concurrent updates of one
 * item can lose each other's writes; DynamoDB applies every single-item write atomically, which
 * the ledger relies on (docs/decisions/0031-exactly-once-warehouse-loads.md, section 3). Behind
 * this proxy each request is atomic, while the callers' operations still interleave freely.
 * A request moto cannot be reached for is answered 502.
 */
export async function startSerializingProxy(target: string): Promise<SerializingProxy> {
  let previous: Promise<void> = Promise.resolve();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      previous = previous.then(async () => {
        const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)).map(([name, value]) => [name, String(value)]));
        const answer = await fetch(target + request.url, { method: request.method!, headers, body: Buffer.concat(chunks) });
        const body = Buffer.from(await answer.arrayBuffer());
        const answerHeaders: Record<string, string> = {};
        answer.headers.forEach((value, name) => {
          if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(name)) answerHeaders[name] = value;
        });
        response.writeHead(answer.status, { ...answerHeaders, 'content-length': String(body.byteLength) });
        response.end(body);
      }).catch((error: unknown) => {
        response.writeHead(502);
        response.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
