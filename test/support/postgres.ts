import { execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CleanupRegistry } from './cleanup-registry.ts';
import { findExecutable, POSTGRES_15_BIN_DIR } from './executables.ts';
import { runToCompletion, ServerProcess, waitUntilReady } from './server-process.ts';

/** A running throwaway PostgreSQL cluster. */
export interface PostgresServer {
  /** `postgresql://postgres@127.0.0.1:PORT/postgres`; trust authentication, no password. */
  readonly connectionString: string;
}

const INSTALL_HINT = 'Debian package postgresql-15';
const BIND_ATTEMPTS = 3;

/**
 * Creates a PostgreSQL cluster in a fresh temporary directory and starts it
 * on 127.0.0.1 and a free port; returns once it answers `select 1`.
 *
 * Settings favour speed over durability (`fsync=off`, no WAL flushes): the
 * data is thrown away after the run. The unix socket lives inside the
 * temporary directory. PostgreSQL refuses to run as root, so when we are
 * root, initdb and postgres run as the `postgres` user on a directory it owns.
 * Everything started is registered with `cleanup` before anything can fail.
 * Throws when a binary is missing, or with the log tail when initdb fails or
 * the server exits or is not ready within `timeoutMs`.
 */
export async function startPostgres(cleanup: CleanupRegistry, timeoutMs = 30_000): Promise<PostgresServer> {
  const initdb = findExecutable('initdb', INSTALL_HINT, [POSTGRES_15_BIN_DIR]);
  const postgres = findExecutable('postgres', INSTALL_HINT, [POSTGRES_15_BIN_DIR]);
  const owner = clusterOwner();

  const directory = await mkdtemp(join(tmpdir(), 'ingest-postgres-'));
  cleanup.trackDirectory(directory);
  const socketDirectory = join(directory, 'socket');
  const dataDirectory = join(directory, 'data');
  await mkdir(socketDirectory);
  if (owner !== undefined) {
    await chown(directory, owner.uid, owner.gid);
    await chown(socketDirectory, owner.uid, owner.gid);
  }
  const options = { cwd: directory, stopSignal: 'SIGINT', env: { ...process.env, LC_ALL: 'C' }, ...owner } as const;

  const init = ServerProcess.spawn('initdb', initdb, [
    '--pgdata', dataDirectory, '--username', 'postgres', '--auth', 'trust', '--encoding', 'UTF8',
    '--no-locale', '--no-sync', '--no-instructions',
  ], { ...options, logPath: join(directory, 'initdb.log'), stopSignal: 'SIGTERM' });
  cleanup.trackProcess(init);
  await runToCompletion(init);
  cleanup.forgetProcess(init);

  // Postgres cannot bind port 0, so we pick a free port; another process may
  // take it before postgres binds it, hence the retries.
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    // SIGINT is PostgreSQL's "fast shutdown": disconnect clients, stop at once.
    const server = ServerProcess.spawn('postgres', postgres, [
      '-D', dataDirectory, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${socketDirectory}`,
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    ], { ...options, logPath: join(directory, `postgres-${attempt}.log`) });
    cleanup.trackProcess(server);

    const connectionString = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitUntilReady(server, `a connection to 127.0.0.1:${port}`,
        () => acceptsConnections(connectionString), { timeoutMs });
      return { connectionString };
    } catch (error) {
      const lostThePort = server.hasExited() && /could not bind|Address already in use/.test(server.logTail());
      if (!lostThePort || attempt === BIND_ATTEMPTS) throw error;
      cleanup.forgetProcess(server);
    }
  }
}

/** The postgres user's ids when we are root, undefined otherwise (we run it as ourselves). */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no postgres user: PostgreSQL refuses to run as root, '
      + 'and integration tests start it as that user (Debian package postgresql-15 creates it)');
  }
}

async function acceptsConnections(connectionString: string): Promise<true | undefined> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function findFreePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port on 127.0.0.1');
  return address.port;
}
