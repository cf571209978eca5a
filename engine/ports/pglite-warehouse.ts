import type { PGliteInterface } from '@electric-sql/pglite';
import { SessionWarehouse } from './session-warehouse.ts';
import type { SessionWarehouseOptions, SqlSession } from './session-warehouse.ts';

/** PGlite reads the data of `COPY ... FROM '/dev/blob'` from the query's `blob` option. */
const DEV_BLOB = "'/dev/blob'";

/**
 * The `Warehouse` of local runs: PGlite, PostgreSQL compiled to WebAssembly and run in this
 * process on a directory (`.ingest/pglite/`), so `ingest run --local` loads redshift and postgres
 * sinks into a real SQL database without a server or an account. PGlite has one session, so
 * submissions take it in turn, each from its first statement to its last (see
 * `SessionWarehouse`). A `COPY ... FROM STDIN` becomes PGlite's `COPY ... FROM '/dev/blob'`, fed
 * the whole data as one Blob: local batches are small, and PGlite reads no stream.
 * The caller owns the database and closes it.
 */
export class PgliteWarehouse extends SessionWarehouse {
  /** The end of the last submission's turn: each session starts after it. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: PGliteInterface,
    options: SessionWarehouseOptions = {},
  ) {
    super(options);
  }

  protected async session(): Promise<SqlSession> {
    let release!: () => void;
    const previous = this.turn;
    this.turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    const { db } = this;
    return {
      query: async (text, values) => {
        const result = await db.query<unknown[]>(text, [...values], { rowMode: 'array' });
        return { fields: result.fields, rows: result.rows, rowCount: result.rowCount ?? result.affectedRows };
      },
      copyIn: async (text, data) => {
        const chunks: Uint8Array[] = [];
        for await (const chunk of data) chunks.push(chunk);
        const result = await db.query(fromBlob(text), [], { blob: new Blob(chunks) });
        return result.rowCount ?? result.affectedRows ?? -1;
      },
      // PGlite's one session cannot be replaced; a broken one fails the submissions after it.
      release: () => release(),
    };
  }
}

/** `COPY t (...) FROM STDIN ...` as PGlite runs it: `FROM '/dev/blob'`. */
export function fromBlob(copy: string): string {
  const replaced = copy.replace(/\sFROM\s+STDIN\b/i, ` FROM ${DEV_BLOB}`);
  if (replaced === copy) throw new RangeError('not a COPY ... FROM STDIN statement');
  return replaced;
}
