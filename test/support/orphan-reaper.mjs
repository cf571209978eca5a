// Stops the test servers when the vitest process dies without tearing them
// down (SIGKILL, a crash, a CI timeout). Started by cleanup-registry.ts, which
// sends one JSON command per line on stdin:
//   {"op":"watch","pid":123,"signal":"SIGTERM"}   {"op":"unwatch","pid":123}
//   {"op":"remove","path":"/tmp/x"}               {"op":"keep","path":"/tmp/x"}
//   {"op":"release"}   (orderly teardown done: exit without doing anything)
// End of input without "release" means the parent is gone: signal every
// watched process group, SIGKILL what is left after a grace period, delete
// the directories.
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const watched = new Map();
const directories = new Set();
let released = false;

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    return;
  }
  if (command.op === 'watch') watched.set(command.pid, command.signal);
  else if (command.op === 'unwatch') watched.delete(command.pid);
  else if (command.op === 'remove') directories.add(command.path);
  else if (command.op === 'keep') directories.delete(command.path);
  else if (command.op === 'release') released = true;
});
input.on('close', () => {
  if (!released) cleanUp();
  process.exit(0);
});

function cleanUp() {
  for (const [pid, signal] of watched) signalGroup(pid, signal);
  const deadline = Date.now() + 5_000;
  while ([...watched.keys()].some(isRunning) && Date.now() < deadline) sleep(50);
  for (const pid of watched.keys()) if (isRunning(pid)) signalGroup(pid, 'SIGKILL');
  sleep(100);
  for (const path of directories) {
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Nothing more can be done from here.
    }
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function isRunning(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
