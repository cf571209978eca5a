import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerOptions, MetadataBearer } from '@smithy/types';

/** What counting needs of a client: every AWS SDK v3 client has a middleware stack. */
interface ClientWithMiddleware {
  middlewareStack: {
    add(middleware: (next: InitializeHandler<any, MetadataBearer>, context: HandlerExecutionContext) => InitializeHandler<any, MetadataBearer>, options: InitializeHandlerOptions & { name: string }): void;
  };
}

let counters = 0;

/**
 * Counts the requests `client` sends from now on, by command name (`UpdateItemCommand`), with an
 * SDK middleware at the initialize step: one count per command sent, the SDK's own retries not
 * included. The returned map is live.
 */
export function countRequests(client: ClientWithMiddleware): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add((next, context) => async (args) => {
    const name = context.commandName ?? 'unknown';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return next(args);
  }, { step: 'initialize', name: `countRequests${++counters}` });
  return counts;
}

/** The sum of a request count map. */
export function totalRequests(counts: ReadonlyMap<string, number>): number {
  return [...counts.values()].reduce((sum, count) => sum + count, 0);
}
