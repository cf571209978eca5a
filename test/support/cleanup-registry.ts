import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isProcessRunning, stopProcessesNow, type ServerProcess } from './server-process.ts';

const REAPER_SCRIPT = fileURLToPath(new URL('./orphan-reaper.mjs', import.meta.url));
const FATAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Everything the test run started that must not outlive it: server processes
 * and temporary directories. Whatever happens, they are stopped and deleted:
 *
 * - by {@link stopAll} on teardown, or when setup fails half-way;
 * - synchronously on process exit and on SIGINT, SIGTERM, SIGHUP (vitest
 *   answers those with `process.exit()` and does not run teardown);
 * - by a detached reaper process (orphan-reaper.mjs) when this process dies
 *   without running any code (SIGKILL), because our stdin pipe to it closes.
 */
export class CleanupRegistry {
  private readonly processes = new Set<ServerProcess>();
  private readonly directories = new Set<string>();
  private readonly reaper: ChildProcess;
  private readonly onExit = (): void => this.stopAllNow();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.stopAllNow();
    process.exitCode ??= 128 + constants.signals[signal];
    // vitest's own handler exits sooner; this only matters when it has none.
    setTimeout(() => process.exit(), 50);
  };

  constructor() {
    this.reaper = spawn(process.execPath, [REAPER_SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    this.reaper.unref();
    (this.reaper.stdin as Socket | null)?.unref();
    process.on('exit', this.onExit);
    for (const signal of FATAL_SIGNALS) process.on(signal, this.onSignal);
  }

  /** Registers a started process; call right after spawning it. */
  trackProcess(server: ServerProcess): void {
    this.processes.add(server);
    this.tellReaper({ op: 'watch', pid: server.pid, signal: server.stopSignal });
  }

  /** Registers a directory to delete, recursively, when the run ends. */
  trackDirectory(path: string): void {
    this.directories.add(path);
    this.tellReaper({ op: 'remove', path });
  }

  /** Forgets a process that has exited on its own (such as initdb). */
  forgetProcess(server: ServerProcess): void {
    this.processes.delete(server);
    this.tellReaper({ op: 'unwatch', pid: server.pid });
  }

  /**
   * Stops every tracked process in parallel, deletes every tracked directory,
   * stops the reaper and removes the exit hooks. Never throws; call it once.
   */
  async stopAll(): Promise<void> {
    await Promise.all([...this.processes].map(async (server) => {
      await server.stop();
      this.forgetProcess(server);
    }));
    await Promise.all([...this.directories].map(async (path) => {
      await rm(path, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
      this.directories.delete(path);
      this.tellReaper({ op: 'keep', path });
    }));
    this.release();
  }

  /** Synchronous {@link stopAll} for exit and signal handlers. Never throws. */
  stopAllNow(): void {
    stopProcessesNow(this.processes);
    for (const path of this.directories) {
      try {
        rmSync(path, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // The reaper tries again once we are gone.
        continue;
      }
      this.tellReaper({ op: 'keep', path });
    }
    for (const server of this.processes) {
      if (!isProcessRunning(server.pid)) this.tellReaper({ op: 'unwatch', pid: server.pid });
    }
    this.processes.clear();
    this.directories.clear();
  }

  private release(): void {
    process.off('exit', this.onExit);
    for (const signal of FATAL_SIGNALS) process.off(signal, this.onSignal);
    this.tellReaper({ op: 'release' });
    this.reaper.stdin?.end();
  }

  private tellReaper(command: Record<string, unknown>): void {
    if (this.reaper.stdin?.writable) this.reaper.stdin.write(`${JSON.stringify(command)}\n`);
  }
}
