/**
 * A throw-away PostgreSQL server for tests: the Debian binaries, a cluster in a temp directory,
 * a random loopback port, trust authentication, durability off (fsync, synchronous commit), and
 * everything removed on stop.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running test server. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** The newest installed server's bin directory, or undefined. */
function findBinDir(): string | undefined {
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
  const bin = findBinDir();
  if (!bin) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/ensure-test-services.sh (it installs the Debian package "postgresql").');
  }
  const account = serverAccount();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-pg-'));
  const dataDir = path.join(dir, 'data');
  if (account) fs.chownSync(dir, account.uid, account.gid);
  let child: ChildProcess | undefined;
  let port = 0;
  try {
    await run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], account);
    port = await freePort();
    child = spawn(
      path.join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=50', '-c', 'shared_buffers=64MB'],
      { stdio: ['ignore', 'ignore', 'pipe'], ...account },
    );
    await waitUntilReady(child);
  } catch (error) {
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const server = child;
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          fs.rmSync(dir, { recursive: true, force: true });
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
