import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SessionWarehouse } from './session-warehouse.ts';
import type { SessionWarehouseOptions, SqlSession } from './session-warehouse.ts';

/** What the adapter needs of a `pg.Pool`: a client to run a submission on. */
export interface PostgresPool {
  connect(): Promise<pg.PoolClient>;
}

export type PostgresWarehouseOptions = SessionWarehouseOptions;

/**
 * The `Warehouse` of a PostgreSQL sink, through a `pg` pool the caller owns: each submission runs
 * on a pooled connection of its own (see `SessionWarehouse` for how submissions run and end). A
 * transaction's `COPY ... FROM STDIN` is streamed with pg-copy-streams, never held whole.
 */
export class PostgresWarehouse extends SessionWarehouse {
  constructor(
    private readonly pool: PostgresPool,
    options: PostgresWarehouseOptions = {},
  ) {
    super(options);
  }

  protected async session(): Promise<SqlSession> {
    const client = await this.pool.connect();
    return {
      query: (text, values) => client.query({ text, values: [...values], rowMode: 'array' }),
      copyIn: (text, data) => copyIn(client, text, data),
      release: (broken) => client.release(broken),
    };
  }
}

/**
 * Streams a COPY's data to the server; resolves to the rows copied. A failing data source sends
 * CopyFail, so the server ends the COPY (and the transaction fails) with the source's error.
 */
async function copyIn(client: pg.PoolClient, text: string, data: AsyncIterable<Uint8Array>): Promise<number> {
  const stream = client.query(copyFrom(text));
  await pipeline(Readable.from(data), stream);
  return stream.rowCount;
}
