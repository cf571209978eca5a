import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupRegistry } from './cleanup-registry.ts';
import { findExecutable } from './executables.ts';
import { ServerProcess, waitUntilReady } from './server-process.ts';

/** A running moto server. */
export interface MotoServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`; the SDK's `endpoint`. */
  readonly url: string;
}

/**
 * Starts one `moto_server` on 127.0.0.1 and returns once it answers HTTP.
 *
 * moto binds port 0 itself and logs the port it got ("Running on
 * http://127.0.0.1:PORT"), so there is no window in which another process can
 * take a port we picked. The process and its temporary directory (holding
 * `moto.log`) are registered with `cleanup` before anything can fail.
 * Throws when moto_server is not installed, or with the log tail when it
 * exits or is not ready within `timeoutMs`.
 */
export async function startMoto(cleanup: CleanupRegistry, timeoutMs = 30_000): Promise<MotoServer> {
  const executable = findExecutable('moto_server', 'pip package moto[server]');
  const directory = await mkdtemp(join(tmpdir(), 'ingest-moto-'));
  cleanup.trackDirectory(directory);

  const server = ServerProcess.spawn('moto_server', executable, ['-H', '127.0.0.1', '-p', '0'], {
    logPath: join(directory, 'moto.log'),
    cwd: directory,
    stopSignal: 'SIGTERM',
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  cleanup.trackProcess(server);

  const url = await waitUntilReady(server, 'its address in the log', async () => {
    return /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.logTail(200))?.[1];
  }, { timeoutMs });
  await waitUntilReady(server, `an HTTP answer from ${url}`, async () => {
    const response = await fetch(`${url}/moto-api/data.json`);
    return response.ok ? true : undefined;
  }, { timeoutMs });
  return { url };
}
