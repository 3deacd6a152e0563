/**
 * The benchmark's child processes: each one spawned in its own process group (so that it and any
 * child of its own stop together), optionally pinned to a CPU with `taskset`, tracked in one
 * registry and stopped on every way out of the runner (normal end, error, SIGINT, SIGTERM).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Whether `taskset` (util-linux) is on the PATH; without it nothing is pinned and the report says so. */
export const TASKSET_AVAILABLE = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux nearly always). */
export const CLOCK_TICKS = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/** A running child process of the benchmark. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr, last 64 KiB), for error reports. */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** How to start one process. */
export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** CPU list for `taskset -c` (e.g. "0"); ignored when taskset is missing. */
  cpus?: string;
  /** Run as this user and group (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** The signal that asks the process to stop (PostgreSQL: SIGINT, its fast shutdown). @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
}

const live = new Set<ManagedProcess>();
let cleanupInstalled = false;

/** Kills every live child's process group at once (synchronously: also usable in an 'exit' handler). */
function killAllNow(signal: NodeJS.Signals): void {
  for (const p of live) {
    try {
      process.kill(-p.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Stops every live child: SIGTERM, then SIGKILL for those still there after the grace period. */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.allSettled([...live].map((p) => p.stop(graceMs)));
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  // Last resort: whatever is still registered when the runner exits is killed outright.
  process.on('exit', () => killAllNow('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping ${live.size} child process(es)...\n`);
      void stopAll(2000).finally(() => process.exit(130));
    });
  }
}

/** Spawns a process in its own process group, pinned with taskset when asked and available. */
export function spawnManaged(options: SpawnOptions): ManagedProcess {
  installCleanup();
  const pinned = options.cpus !== undefined && TASKSET_AVAILABLE;
  // taskset execs the command, so the pid is the command's own.
  const command = pinned ? 'taskset' : options.command;
  const args = pinned ? ['-c', options.cpus!, options.command, ...options.args] : [...options.args];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  let buffer = '';
  const keep = (chunk: Buffer): void => {
    buffer += chunk.toString('utf8');
    if (buffer.length > 65_536) buffer = buffer.slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid;
  const managed: ManagedProcess = {
    name: options.name,
    pid,
    child,
    output: () => buffer,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        live.delete(managed);
        return;
      }
      try {
        process.kill(-pid, options.stopSignal ?? 'SIGTERM');
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
      live.delete(managed);
    },
  };
  live.add(managed);
  void exited.then(() => live.delete(managed));
  return managed;
}

/**
 * Waits until the process prints a line matching `pattern` and returns the match; fails when the
 * process exits first or the time runs out (with the process's output in the message).
 */
export function waitForLine(p: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const match = pattern.exec(seen);
      if (match) {
        done();
        resolve(match);
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`${p.name} exited (code ${String(code)}) before it was ready:\n${p.output().slice(-3000)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${p.name} was not ready after ${timeoutMs} ms:\n${p.output().slice(-3000)}`));
    }, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      p.child.stdout!.off('data', onData);
      p.child.stderr!.off('data', onData);
      p.child.off('exit', onExit);
    }
    p.child.stdout!.on('data', onData);
    p.child.stderr!.on('data', onData);
    p.child.once('exit', onExit);
    // The line may already be in the buffer.
    const already = pattern.exec(p.output());
    if (already) {
      done();
      resolve(already);
    }
  });
}

/** Pins every thread of a running process to `cpus` (taskset -a -p); false when taskset is missing or it failed. */
export function repin(pid: number, cpus: string): boolean {
  if (!TASKSET_AVAILABLE) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** Spawns a process and waits for its ready line; stops it if it never gets ready. */
export async function startAndWait(options: SpawnOptions & { ready: RegExp; timeoutMs: number }): Promise<{ process: ManagedProcess; match: RegExpMatchArray }> {
  const p = spawnManaged(options);
  try {
    const match = await waitForLine(p, options.ready, options.timeoutMs);
    return { process: p, match };
  } catch (error) {
    await p.stop(1000);
    throw error;
  }
}
