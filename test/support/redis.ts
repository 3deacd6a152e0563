/**
 * Throw-away Redis servers for tests: `redis-server` on random loopback ports, data in a temp
 * directory, killed and removed on stop. A standalone server (optionally with an append-only
 * file, so that a killed server comes back with what it acknowledged) and a three-master Redis
 * Cluster built with `redis-cli --cluster create`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { SandboxSet } from '../../departments';
import { createGateway, parseConfig, type DepartmentEndpoints, type Gateway, type GatewayOptions, type HubConfigInput } from '../../src/gateway';
import { startHubServer, type HubServer } from '../../src/http';
import { HANG_DEADLINE_MS } from './deadline';

/** A running test server. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Kills the process (SIGKILL: no shutdown save, like a crash) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (after `kill`). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void;
  /** Lets a paused process run again (SIGCONT). */
  resume(): void;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/** Options of `startRedisServer`. */
export interface RedisServerOptions {
  /** @default a free port */
  port?: number;
  /** Keep an append-only file fsynced on every write (what the audit stream relies on). @default false */
  appendonly?: boolean;
  /** Extra `--name value` arguments. */
  args?: string[];
}

/** A running three-master test cluster. */
export interface RedisCluster {
  /** The masters, `127.0.0.1:<port>` each. */
  readonly nodes: readonly string[];
  readonly servers: readonly RedisServer[];
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = HANG_DEADLINE_MS;

/** A free loopback port (the kernel's pick, released just before the server binds it). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: HANG_DEADLINE_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function requireBinary(): void {
  const found = (process.env.PATH ?? '').split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, 'redis-server')));
  if (!found) throw new Error('redis-server not found on PATH: run scripts/ensure-test-services.sh (it installs the Debian package "redis-server").');
}

/** Starts a real redis-server for one test file. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  requireBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-redis-'));
  const port = options.port ?? (await freePort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--appendonly', options.appendonly ? 'yes' : 'no',
    ...(options.appendonly ? ['--appendfsync', 'always'] : []),
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let log = '';

  async function launch(): Promise<void> {
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    started.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    let exited = false;
    started.once('exit', () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server exited while starting: ${log}`);
      return (await redisCli(['-p', String(port), 'ping'])).trim() === 'PONG';
    }, `redis-server on port ${port}: ${log}`);
  }

  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  }

  await launch();
  // A Redis that has held the hubs' replay state all along (as a production one has since the
  // first hub started): without the marker a hub would take the store for one that lost its
  // ids and refuse tokens issued before it noticed. Tests of that loss flush the server.
  if (!args.includes('--cluster-enabled')) await redisCli(['-p', String(port), 'set', 'datarun:jti-epoch', '0']);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    kill,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running Sentinel watching one master. */
export interface RedisSentinel {
  /** `127.0.0.1:<port>` of the sentinel. */
  readonly address: string;
  /** The master group name it watches. */
  readonly name: string;
  stop(): Promise<void>;
}

/** Starts a Sentinel (`redis-server <conf> --sentinel`) that watches `master` under the name `name` (quorum 1). */
export async function startRedisSentinel(master: RedisServer, name = 'datarun'): Promise<RedisSentinel> {
  requireBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-sentinel-'));
  const port = await freePort();
  const conf = path.join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file, so it gets a writable one of its own.
  fs.writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${master.port} 1\n`);
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitFor(async () => (await redisCli(['-p', String(port), 'sentinel', 'get-master-addr-by-name', name])).includes(String(master.port)), `sentinel on ${port}`);
  return {
    address: `127.0.0.1:${port}`,
    name,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts three cluster-enabled servers, joins them as three masters without replicas, and waits for `cluster_state:ok` on each. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      servers.push(
        await startRedisServer({
          port,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'],
        }),
      );
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    await redisCli(['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
    for (const s of servers) {
      await waitFor(async () => /cluster_state:ok/.test(await redisCli(['-p', String(s.port), 'cluster', 'info'])), `cluster_state:ok on ${s.port}`);
    }
    await redisCli(['-c', '-p', String(servers[0]!.port), 'set', 'datarun:jti-epoch', '0']);
    return {
      nodes,
      servers,
      async stop() {
        await Promise.all(servers.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
}

/** Waits until a condition holds (polling every 25 ms), or fails naming what it waited for. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = HANG_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (await Promise.resolve(condition()).catch((error: unknown) => ((lastError = error), false))) return;
    // The last error the condition threw says why it never held (a hub that died answers no request).
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error)?.message ?? String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A hub running as its own process (`datarun serve` through the SWC require hook), as hub-crash.test.ts runs one. */
export interface HubProcess {
  readonly url: string;
  readonly instanceId: string;
  /** What it printed so far (its startup message, warnings). */
  output(): string;
  /** SIGTERM, then SIGKILL if it does not exit within 5 s. */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash: nothing finished, nothing released), resolving once it exited. */
  kill(): Promise<void>;
}

/** Options of `startHubProcess`. */
export interface HubProcessOptions {
  instanceId: string;
  keysDir: string;
  auditDir: string;
  /** Extra environment (DATARUN_REDIS_URL, DATARUN_*_URL of the departments…). */
  env?: Record<string, string>;
  /** A configuration object written to a temp file and passed as DATARUN_CONFIG. */
  config?: Record<string, unknown>;
}

const ROOT = path.resolve(__dirname, '../..');

/** Starts `datarun serve --port 0` and resolves once it printed its URL. */
export function startHubProcess(options: HubProcessOptions): Promise<HubProcess> {
  let configFile: string | undefined;
  if (options.config) {
    configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-config-')), 'datarun.json');
    fs.writeFileSync(configFile, JSON.stringify(options.config));
  }
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'test/fixtures/audit/register-ts.js'), path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATARUN_KEYS_DIR: options.keysDir,
      DATARUN_AUDIT_DIR: options.auditDir,
      DATARUN_INSTANCE_ID: options.instanceId,
      DATARUN_LOG_LEVEL: 'warn',
      ...(configFile ? { DATARUN_CONFIG: configFile } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-20_000)));
  child.stderr!.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hub ${options.instanceId} did not start: ${out}`));
    }, HANG_DEADLINE_MS);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`hub ${options.instanceId} exited with ${code}: ${out}`));
    };
    child.once('exit', onExit);
    const onData = (): void => {
      const m = /hub ready at (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', onData);
      // A hub that dies during the tests says why, in the test output: the tests after it only see a refused connection.
      let stopping = false;
      child.once('exit', (code, signal) => {
        if (!stopping) process.stderr.write(`hub ${options.instanceId} exited unexpectedly (code ${code}, signal ${signal}); its last output:\n${out.slice(-4000)}\n`);
      });
      resolve({
        url: m[1]!,
        instanceId: options.instanceId,
        output: () => out,
        async stop() {
          stopping = true;
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timeout);
          if (configFile) fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
        },
        async kill() {
          stopping = true;
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((r) => child.once('exit', () => r()));
            child.kill('SIGKILL');
            await exited;
          }
          if (configFile) fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
        },
      });
    };
    child.stdout!.on('data', onData);
  });
}

/** A hub in the test process, on Redis, over in-process sandboxes. */
export interface InProcessHub {
  readonly url: string;
  /** Its operator listener (`/metrics`, the detailed `/readyz`), on its own loopback port. */
  readonly operatorUrl: string;
  readonly gateway: Gateway;
  /** Its temp directory: `keys/` and `audit/` (the archive root). */
  readonly dir: string;
  close(): Promise<void>;
}

/** Starts a hub in this process with the configuration (signed mode, instance `hub-f`, checkpoints every 500 ms, unless overridden) on `redisUrl`. */
export async function startHubInProcess(sandboxes: SandboxSet, redisUrl: string | undefined, overrides: HubConfigInput = {}, options: GatewayOptions = {}): Promise<InProcessHub> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-hub-'));
  const config = parseConfig({
    connectorTimeoutMs: 10_000,
    keys: { dir: path.join(dir, 'keys') },
    ...overrides,
    audit: { dir: path.join(dir, 'audit'), instanceId: 'hub-f', checkpointEveryMs: 500, ...overrides.audit },
    ...(redisUrl ? { redis: { url: redisUrl, ...overrides.redis } } : {}),
  });
  const gateway = await createGateway(config, sandboxes.endpoints as DepartmentEndpoints, { sandboxes: Object.keys(sandboxes.endpoints), ...options });
  let server: HubServer;
  try {
    server = await startHubServer({ gateway, logger: pino({ level: 'silent' }), port: 0, operator: { port: 0 }, shutdownGraceMs: 1000 });
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  return {
    url: server.url,
    operatorUrl: server.operatorUrl!,
    gateway,
    dir,
    async close() {
      await server.close();
      await gateway.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
