/**
 * Jest's Node environment with a deadline per test file (jest.config.js `testEnvironment`).
 *
 * Jest's own deadlines are per test and per hook, and they need the worker's event loop. A file
 * whose every test waits out its deadline on a wedged server, or a worker stuck in a synchronous
 * loop or in garbage collection near its heap limit, would hold CI until its time limit ends the
 * whole run, without a word of which file or test. Here a thread (watchdog-thread.js) watches the
 * file from outside its event loop, from the environment's setup to its teardown (after the
 * file's last hook). Past the deadline it names the file, the test or hook running and whether
 * the loop still turns, then kills the worker; Jest reports that file as failed and goes on.
 * (When Jest runs a lone file in its own process instead of a worker, it is Jest that stops.)
 *
 * The deadline is the project's `testEnvironmentOptions.fileDeadlineMs` (jest.config.js: 20 min,
 * or DATARUN_TEST_FILE_HANG_MS); it catches a hang, never measures speed.
 */
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { TestEnvironment } = require('jest-environment-node');

/** How much of the running test's name is kept, in bytes of UTF-8. */
const NAME_BYTES = 2048;
const ROOT = path.resolve(__dirname, '../..');

/** A test's full name, as Jest prints it: its describe blocks' names, then its own. */
function fullName(test) {
  const names = [];
  for (let block = test; block !== undefined && block.parent !== undefined; block = block.parent) names.unshift(block.name);
  return names.join(' ');
}

class WatchedEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.file = path.relative(ROOT, context.testPath);
    this.deadlineMs = config.projectConfig.testEnvironmentOptions.fileDeadlineMs;
    if (!(this.deadlineMs > 0)) throw new Error(`watchdog-environment.js: testEnvironmentOptions.fileDeadlineMs must be a positive number of milliseconds, but got ${String(this.deadlineMs)}`);
  }

  async setup() {
    await super.setup();
    // Shared with the thread: [0] 1 once the file ended, [1] the running name's length in bytes;
    // the last heartbeat (epoch ms) and the heap in use then; the running name.
    this.state = new Int32Array(new SharedArrayBuffer(8));
    this.beat = new Float64Array(new SharedArrayBuffer(16));
    this.name = new Uint8Array(new SharedArrayBuffer(NAME_BYTES));
    this.heartbeat();
    this.beating = setInterval(() => this.heartbeat(), 1000);
    this.beating.unref();
    this.watcher = new Worker(path.join(__dirname, 'watchdog-thread.js'), {
      workerData: { file: this.file, deadlineMs: this.deadlineMs, startedAt: Date.now(), stateBuffer: this.state.buffer, beatBuffer: this.beat.buffer, nameBuffer: this.name.buffer },
    });
    this.watcher.unref();
  }

  heartbeat() {
    this.beat[0] = Date.now();
    this.beat[1] = process.memoryUsage().heapUsed;
  }

  /** Keeps the name of what runs now: a test, or a hook (with the test or block it runs for). */
  handleTestEvent(event) {
    let running;
    if (event.name === 'test_start') this.test = fullName(event.test);
    if (event.name === 'test_start' || event.name === 'test_fn_start') running = this.test;
    else if (event.name === 'hook_start') {
      const { type, parent } = event.hook;
      if (type === 'beforeEach' || type === 'afterEach') running = `${type} hook of the test "${this.test}"`;
      else running = `${type} hook of ${parent && parent.parent ? `"${fullName(parent)}"` : 'the file'}`;
    }
    if (running === undefined || this.name === undefined) return;
    const bytes = Buffer.from(running, 'utf8').subarray(0, NAME_BYTES);
    this.name.set(bytes);
    Atomics.store(this.state, 1, bytes.length);
  }

  async teardown() {
    if (this.watcher !== undefined) {
      clearInterval(this.beating);
      Atomics.store(this.state, 0, 1);
      Atomics.notify(this.state, 0);
      await this.watcher.terminate();
    }
    await super.teardown();
  }
}

module.exports = WatchedEnvironment;
