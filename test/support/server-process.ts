import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a child process ended: an exit code, a signal, or a failure to start at all. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** Options for {@link ServerProcess.spawn}. */
export interface SpawnOptions {
  /** Receives the process's stdout and stderr; written by the process itself, so it outlives us. */
  readonly logPath: string;
  readonly cwd: string;
  /** Signal that asks the process to stop; SIGKILL follows if it does not. */
  readonly stopSignal: NodeJS.Signals;
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this user and group (only possible when we are root). */
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * A child process started for the test run: in its own session and process
 * group (so a Ctrl-C on the terminal does not race the orderly teardown), with
 * its output in a log file whose tail goes into every startup error.
 */
export class ServerProcess {
  private exitStatus: ExitStatus | undefined;

  private constructor(
    readonly name: string,
    readonly pid: number,
    readonly logPath: string,
    readonly stopSignal: NodeJS.Signals,
    /** Resolves when the process has exited, or failed to start. */
    readonly exited: Promise<ExitStatus>,
  ) {
    void exited.then((status) => {
      this.exitStatus = status;
    });
  }

  /**
   * Starts `command`. Throws if the operating system gives no process id
   * (the binary vanished or is not executable); the error names the binary.
   */
  static spawn(name: string, command: string, args: readonly string[], options: SpawnOptions): ServerProcess {
    const logFd = openSync(options.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', logFd, logFd],
        detached: true,
        ...(options.uid === undefined ? {} : { uid: options.uid }),
        ...(options.gid === undefined ? {} : { gid: options.gid }),
      });
    } finally {
      closeSync(logFd);
    }
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    if (child.pid === undefined) {
      throw new Error(`${name} could not be started from ${command}`);
    }
    return new ServerProcess(name, child.pid, options.logPath, options.stopSignal, exited);
  }

  /** Whether the process is known to have exited (as seen by the event loop). */
  hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  /** The last `lineCount` lines of the log file, or a note that it could not be read. */
  logTail(lineCount = 40): string {
    try {
      const text = readFileSync(this.logPath, 'utf8').trimEnd();
      return text === '' ? '(empty)' : text.split('\n').slice(-lineCount).join('\n');
    } catch (error) {
      return `(log ${this.logPath} unreadable: ${String(error)})`;
    }
  }

  /** An Error for a failed start, with `reason` and the tail of the log, which is deleted soon after. */
  startupError(reason: string): Error {
    const status = this.exitStatus;
    const exit = status === undefined ? '' : ` (${describeExit(status)})`;
    return new Error(`${this.name} did not start: ${reason}${exit}\n--- last lines of ${this.name}'s log ---\n${this.logTail()}`);
  }

  /**
   * Sends the stop signal to the process group and waits for the exit;
   * after `graceMs` sends SIGKILL. Never throws.
   */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.hasExited()) return;
    signalGroup(this.pid, this.stopSignal);
    if (!(await this.exitsWithin(graceMs))) {
      signalGroup(this.pid, 'SIGKILL');
      await this.exitsWithin(1_000);
    }
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    // An abandoned timer would hold the event loop, and vitest's exit, for `ms`.
    const timer = new AbortController();
    const outcome = await Promise.race([
      this.exited,
      sleep(ms, 'timeout' as const, { signal: timer.signal }),
    ]);
    timer.abort();
    return outcome !== 'timeout';
  }
}

/**
 * Synchronous {@link ServerProcess.stop} for many processes at once, for
 * `process.on('exit')` and signal handlers, where the event loop no longer
 * runs: signals all, waits up to `graceMs` for all, SIGKILLs the rest.
 * Never throws.
 */
export function stopProcessesNow(servers: Iterable<ServerProcess>, graceMs = 3_000): void {
  const running = [...servers].filter((server) => !server.hasExited() && isProcessRunning(server.pid));
  for (const server of running) signalGroup(server.pid, server.stopSignal);
  const deadline = Date.now() + graceMs;
  while (running.some((server) => isProcessRunning(server.pid)) && Date.now() < deadline) sleepSync(20);
  for (const server of running) {
    if (isProcessRunning(server.pid)) signalGroup(server.pid, 'SIGKILL');
  }
}

/**
 * Runs a short-lived command (such as initdb) to completion.
 * Throws the process's startup error, with its log tail, if it exits non-zero.
 */
export async function runToCompletion(command: ServerProcess): Promise<void> {
  const status = await command.exited;
  if (status.code !== 0) throw command.startupError('it failed');
}

/**
 * Polls `probe` every `intervalMs` until it returns a value, and returns that value.
 * Rejects with the server's startup error (and log tail) when the process exits
 * first or `timeoutMs` passes.
 */
export async function waitUntilReady<T>(
  server: ServerProcess,
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.hasExited()) throw server.startupError(`it exited while we waited for ${what}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw server.startupError(`still waiting for ${what} after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/**
 * Whether a process with this id exists and is not a zombie. Reads /proc
 * because a zombie child still answers `kill(pid, 0)` until it is reaped,
 * and nothing reaps it while an exit handler blocks the event loop.
 */
export function isProcessRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== 'Z' && state !== 'X';
}

/** Blocks the thread; only for exit and signal handlers. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function describeExit(status: ExitStatus): string {
  if (status.error !== undefined) return status.error.message;
  return status.signal === null ? `exit code ${status.code}` : `killed by ${status.signal}`;
}
