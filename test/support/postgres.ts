/**
 * A throw-away PostgreSQL server for tests: the Debian binaries, a cluster in a temp directory,
 * a random loopback port, trust authentication, durability off (fsync, synchronous commit), and
 * everything removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { preparePostgresCluster } from '../../departments/real-estate/postgres-cluster';
import { HANG_DEADLINE_MS } from './deadline';

/** A running test server. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  urlOf(database: string): string;
  /** Shuts the server down (fast shutdown), keeping its data, like an outage. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data (after `halt`). */
  resume(): Promise<void>;
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
  let server: ChildProcess | undefined;
  async function launch(): Promise<void> {
    const child = spawn(cluster.command, [...cluster.args], { stdio: ['ignore', 'ignore', 'pipe'], ...cluster.account });
    server = child;
    try {
      await waitUntilReady(child);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }
  function halt(): Promise<void> {
    const running = server;
    server = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // SIGINT is PostgreSQL's fast shutdown: it ends client sessions and exits at once.
      const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
      running.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      running.kill('SIGINT');
    });
  }
  try {
    await launch();
  } catch (error) {
    cluster.remove();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: cluster.url(),
    urlOf: (database) => cluster.url(database),
    halt,
    resume: launch,
    stop: () =>
      (stopping ??= halt().then(() => {
        cluster.remove();
      })),
  };
}

let databases = 0;

/** Creates an empty database on the server (one per hub or test that needs its own) and returns its URL. */
export async function freshDatabase(server: PostgresServer): Promise<string> {
  const name = `datarun_${process.pid}_${++databases}`;
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return server.urlOf(name);
}
