/**
 * A hub as its own process: `node dist/src/cli/main.js serve` from the compiled sources (as
 * `npm start` runs it), on loopback, its settings only from the environment given (none of the
 * machine's DATARUN_* variables). Its port and operator port are read from its ready message;
 * every process started here is killed by `killHubProcesses` (afterAll), whatever happened; one
 * that exits on its own shows its last output.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { HANG_DEADLINE_MS } from './deadline';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
/** How much of a process's output is kept for messages. */
const KEPT_OUTPUT = 20_000;

/** A running `datarun serve` process. */
export interface HubProcess {
  /** Its name in messages. */
  readonly name: string;
  readonly child: ChildProcess;
  /** The hub's origin (`http://127.0.0.1:<port>`; GraphQL at `/graphql`). */
  readonly url: string;
  /** The hub's port (to start it again where its peers look for it). */
  readonly port: number;
  /** The operator listener's origin. */
  readonly operatorUrl: string;
  /** The last output of the process (stdout and stderr interleaved). */
  output(): string;
  /** Sends `signal` (SIGTERM: the hub shuts down; SIGKILL: a crash), then waits for the exit (SIGKILL past the deadline); resolves at once when it has exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** Every process started here, with what marks it as stopped on purpose (no "exited by itself" message). */
const started = new Map<ChildProcess, () => void>();

/** Builds dist/ when a source is newer than it (another test's build in progress is waited for). */
export function buildDistIfStale(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.js'), '--if-stale'], { cwd: ROOT, stdio: 'pipe' });
}

/** The environment without the machine's DATARUN_* settings, with `env` over it. */
function hubEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DATARUN_')));
  return { ...clean, DATARUN_HOST: '127.0.0.1', DATARUN_OPERATOR_PORT: '0', ...env };
}

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/**
 * Starts `datarun serve --port <port>` (any free port unless given) with `env`; resolves once the
 * hub printed where it listens, rejects with its output when it exits first or does not start
 * within the suite's hang deadline.
 */
export function startHubProcess(name: string, env: Record<string, string>, options: { port?: number } = {}): Promise<HubProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(options.port ?? 0)], { cwd: ROOT, env: hubEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-KEPT_OUTPUT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let stopping = false;
  started.set(child, () => (stopping = true));
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`${name} exited by itself (${signal ?? `code ${code}`}); its last output:\n${out.slice(-4000)}\n`);
  });
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    stopping = true;
    if (exited(child)) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_DEADLINE_MS / 2);
    await gone;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stopping = true;
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${HANG_DEADLINE_MS} ms; its output:\n${out}`));
    }, HANG_DEADLINE_MS);
    const onData = (): void => {
      const ready = /hub ready at (http:\/\/[^/\s]+)\/graphql/.exec(out);
      const operator = /operator routes at (http:\/\/[^\s(]+)/.exec(out);
      if (!ready || !operator) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onEarlyExit);
      resolve({ name, child, url: ready[1]!, port: Number(new URL(ready[1]!).port), operatorUrl: operator[1]!, output: () => out, stop });
    };
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      stopping = true;
      reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready; its output:\n${out}`));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onEarlyExit);
  });
}

/** Kills (SIGKILL) every hub process started here that still runs, and waits for them to go. */
export async function killHubProcesses(): Promise<void> {
  const running = [...started].filter(([child]) => !exited(child));
  await Promise.all(
    running.map(
      ([child, onPurpose]) =>
        new Promise<void>((resolve) => {
          onPurpose();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  started.clear();
}
