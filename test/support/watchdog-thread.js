/**
 * The watchdog's thread (watchdog-environment.js starts one per test file). It sleeps until the
 * file's deadline; if the file has not ended by then, it writes what the file was doing to
 * stderr (straight to fd 2: the main thread may be the one that is stuck) and kills the Jest
 * worker, so a hang costs one failed suite with a reason instead of the whole CI run.
 *
 * Shared with the main thread: `state` (Int32Array: [0] 1 once the file ended; [1] the running
 * test's or hook's name length in bytes), `beat` (Float64Array: [0] the main thread's last
 * heartbeat, epoch ms; [1] its heap in use then, bytes) and `name` (its name, UTF-8).
 */
'use strict';
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');

const { file, deadlineMs, startedAt, stateBuffer, beatBuffer, nameBuffer } = workerData;
const state = new Int32Array(stateBuffer);
const beat = new Float64Array(beatBuffer);
const name = new Uint8Array(nameBuffer);

// Sleeps until the deadline, woken early when the file ends (state[0] becomes 1).
const until = startedAt + deadlineMs;
for (let left = until - Date.now(); Atomics.load(state, 0) === 0 && left > 0; left = until - Date.now()) Atomics.wait(state, 0, 0, left);
if (Atomics.load(state, 0) === 1) process.exit(0);

const now = Date.now();
const length = Math.min(Atomics.load(state, 1), name.length);
const test = length > 0 ? Buffer.from(name.subarray(0, length)).toString('utf8') : '(nothing yet: the file’s own top level, before its first hook or test)';
const quiet = Math.round((now - beat[0]) / 1000);
const loop =
  quiet >= 3
    ? `its event loop has not turned for ${quiet} s (a synchronous loop, or garbage collection near the heap limit: ${Math.round(beat[1] / 1048576)} MB in use at the last turn)`
    : `its event loop still turns (${Math.round(beat[1] / 1048576)} MB heap in use): something awaits what never comes, past every test and hook deadline`;
writeSync(
  2,
  `\n[watchdog] ${file} has run for ${Math.round((now - startedAt) / 1000)} s, past the file deadline of ${Math.round(deadlineMs / 1000)} s (DATARUN_TEST_FILE_HANG_MS).\n` +
    `[watchdog] Running: ${test}\n[watchdog] ${loop}.\n[watchdog] Killing this Jest worker (pid ${process.pid}); Jest reports the file as failed.\n`,
);
process.kill(process.pid, 'SIGKILL');
