/**
 * A throw-away PostgreSQL server for tests: the Debian binaries, a cluster in a temp directory,
 * a random loopback port, trust authentication, durability off (fsync, synchronous commit), and
 * everything removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { preparePostgresCluster } from '../../departments/real-estate/postgres-cluster';
import { HANG_DEADLINE_MS } from './deadline';

/** A running test server. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = HANG_DEADLINE_MS;

/** Waits for the server's "ready to accept connections" log line (PostgreSQL writes its log unbuffered to stderr). */
async function waitUntilReady(child: ChildProcess): Promise<void> {
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`postgres did not become ready within ${START_TIMEOUT_MS} ms: ${log.trim()}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      log = (log + chunk.toString()).slice(-4000);
      if (/ready to accept connections/.test(log)) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`postgres exited with code ${code} while starting: ${log.trim()}`));
    function finish(error?: Error): void {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stderr so a chatty server never blocks on a full pipe.
      child.stderr!.resume();
      if (error) reject(error);
      else resolve();
    }
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * Starts a real PostgreSQL server for one test file. Fails with a clear message when the server
 * binaries are not installed (scripts/ensure-test-services.sh installs them).
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const cluster = await preparePostgresCluster();
  let child: ChildProcess | undefined;
  try {
    child = spawn(cluster.command, [...cluster.args], { stdio: ['ignore', 'ignore', 'pipe'], ...cluster.account });
    await waitUntilReady(child);
  } catch (error) {
    child?.kill('SIGKILL');
    cluster.remove();
    throw error;
  }
  const server = child;
  let stopping: Promise<void> | undefined;
  return {
    url: cluster.url(),
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          cluster.remove();
          resolve();
        };
        // SIGINT is PostgreSQL's fast shutdown: it ends client sessions and exits at once.
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        if (server.exitCode !== null || server.signalCode !== null) return done();
        server.once('exit', done);
        server.kill('SIGINT');
      })),
  };
}
