/**
 * A throw-away PostgreSQL cluster for the real-estate department when a real server is wanted
 * instead of the embedded engine (the tests against a real server, the benchmarks): the Debian
 * binaries, a cluster in a temp directory, a free loopback port, trust authentication and
 * durability off (the data is a seed, reloaded at every start). This module prepares the cluster
 * and says how to start its server; the caller supervises the process its own way.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The newest installed server's bin directory under /usr/lib/postgresql, or undefined. */
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

/**
 * PostgreSQL refuses to run as root. As root, the server runs as the `postgres` account the Debian
 * package creates (or `nobody`), spawned directly with that uid/gid: no su/runuser in between, so
 * signals reach the server itself.
 */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
    } catch {
      // try the next account
    }
  }
  throw new Error('Running as root, but neither the "postgres" nor the "nobody" account exists to run PostgreSQL as.');
}

/** A free loopback port (the kernel's pick, released just before the server binds it). */
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

function run(command: string, args: string[], account: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...account });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(command)} exited with code ${code}: ${stderr.trim()}`))));
  });
}

/** A prepared cluster: how to start its server, and where it will listen. */
export interface PostgresCluster {
  /** e.g. "PostgreSQL 15" */
  readonly version: string;
  /** The server binary and its arguments; the server logs "ready to accept connections" on stderr. */
  readonly command: string;
  readonly args: readonly string[];
  /** The account to run it as when the hub runs as root (spawn options `uid`/`gid`). */
  readonly account: { uid: number; gid: number } | undefined;
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database?: string): string;
  /** Removes the cluster's directory (after its server has stopped). */
  remove(): void;
}

/** Settings of `preparePostgresCluster`. */
export interface PostgresClusterOptions {
  /** @default 50 */
  maxConnections?: number;
  /** @default '64MB' */
  sharedBuffers?: string;
}

/**
 * Creates a cluster in a temp directory (initdb) and picks its port. Fails with a clear message
 * when the server binaries are not installed (scripts/ensure-test-services.sh installs them).
 */
export async function preparePostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/ensure-test-services.sh (it installs the Debian package "postgresql").');
  }
  const account = serverAccount();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-pg-'));
  const dataDir = path.join(dir, 'data');
  try {
    if (account) fs.chownSync(dir, account.uid, account.gid);
    await run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], account);
    const port = await freePort();
    const settings = {
      listen_addresses: '127.0.0.1',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: String(options.maxConnections ?? 50),
      shared_buffers: options.sharedBuffers ?? '64MB',
    };
    return {
      version: `PostgreSQL ${path.basename(path.dirname(bin))}`,
      command: path.join(bin, 'postgres'),
      args: ['-D', dataDir, '-p', String(port), '-k', dir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      account,
      port,
      url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
