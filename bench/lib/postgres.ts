/**
 * `--postgres`: a throw-away PostgreSQL server for the real-estate sandbox (`datarun sandbox
 * real-estate --database-url`), instead of the embedded PGlite engine, which runs one statement at
 * a time. The Debian binaries (scripts/ensure-test-services.sh installs them for the tests), a
 * cluster in a temp directory, a loopback port, trust authentication, durability off (the
 * benchmark only reads), pinned like the other departments, removed at the end.
 */
import { Client } from 'pg';
import { findPostgresBin, preparePostgresCluster } from '../../departments/real-estate/postgres-cluster';

export { findPostgresBin };
import { spawnManaged, waitForLine, type ManagedProcess } from './processes';

/** A running server and the databases made in it. */
export interface BenchPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  urlOf(database: string): string;
  /** Creates a database (for the second real-estate sandbox, which drops and reloads its schema). */
  createDatabase(name: string): Promise<void>;
  /** e.g. "PostgreSQL 17" */
  readonly version: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts the server pinned to `cpus`; fails with a clear message when the binaries are missing. */
export async function startBenchPostgres(options: { cpus?: string }): Promise<BenchPostgres> {
  if (!findPostgresBin()) throw new Error('--postgres: no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql, or run scripts/ensure-test-services.sh)');
  const cluster = await preparePostgresCluster({ maxConnections: 100, sharedBuffers: '128MB' });
  try {
    const server = spawnManaged({
      name: 'postgres',
      command: cluster.command,
      args: [...cluster.args],
      ...(options.cpus ? { cpus: options.cpus } : {}),
      ...(cluster.account ?? {}),
      stopSignal: 'SIGINT',
    });
    await waitForLine(server, /ready to accept connections/, 20_000);
    void server.exited.then(() => cluster.remove());
    return {
      urlOf: (database) => cluster.url(database),
      version: cluster.version,
      process: server,
      async createDatabase(name) {
        const client = new Client({ connectionString: cluster.url() });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name.replace(/[^a-z0-9_]/g, '')}`);
        } finally {
          await client.end();
        }
      },
      async stop() {
        await server.stop(10_000);
        cluster.remove();
      },
    };
  } catch (error) {
    cluster.remove();
    throw error;
  }
}
