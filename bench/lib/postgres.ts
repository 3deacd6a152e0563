/**
 * `--postgres`: a throw-away PostgreSQL server for the real-estate sandbox (`datarun sandbox
 * real-estate --database-url`), instead of the embedded PGlite engine, which runs one statement at
 * a time. The Debian binaries (scripts/ensure-test-services.sh installs them for the tests), a
 * cluster in a temp directory, a loopback port, trust authentication, durability off (the
 * benchmark only reads), pinned like the other departments, removed at the end.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
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

/** The newest installed server's bin directory, or undefined. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = fs.readdirSync(root);
  } catch {
    return undefined;
  }
  return versions
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, 'bin', 'postgres')) && fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(root, v, 'bin'))[0];
}

/** As root, the server runs as the `postgres` account (or `nobody`). */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      return { uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()) };
    } catch {
      // try the next account
    }
  }
  throw new Error('running as root, but neither the "postgres" nor the "nobody" account exists to run PostgreSQL as');
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Starts the server pinned to `cpus`; fails with a clear message when the binaries are missing. */
export async function startBenchPostgres(options: { cpus?: string }): Promise<BenchPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('--postgres: no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql, or run scripts/ensure-test-services.sh)');
  const account = serverAccount();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-bench-pg-'));
  const dataDir = path.join(dir, 'data');
  if (account) fs.chownSync(dir, account.uid, account.gid);
  try {
    execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
      stdio: 'ignore',
      ...(account ?? {}),
    });
    const port = await freePort();
    const server = spawnManaged({
      name: 'postgres',
      command: path.join(bin, 'postgres'),
      args: ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100', '-c', 'shared_buffers=128MB'],
      ...(options.cpus ? { cpus: options.cpus } : {}),
      ...(account ?? {}),
      stopSignal: 'SIGINT',
    });
    await waitForLine(server, /ready to accept connections/, 20_000);
    void server.exited.then(() => fs.rmSync(dir, { recursive: true, force: true }));
    const urlOf = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
    return {
      urlOf,
      version: `PostgreSQL ${path.basename(path.dirname(bin))}`,
      process: server,
      async createDatabase(name) {
        const client = new Client({ connectionString: urlOf('postgres') });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name.replace(/[^a-z0-9_]/g, '')}`);
        } finally {
          await client.end();
        }
      },
      async stop() {
        await server.stop(10_000);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
