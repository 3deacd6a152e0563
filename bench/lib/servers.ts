/**
 * Starting what the benchmark measures and what it measures against: the sandbox department
 * systems (`datarun sandbox`), the hub (`datarun serve` pointed at them), and the baselines B1
 * (Apollo from memory), B2 and B2-S3 (plain Node), B3 (GraphQL Mesh) and C (graphql-js alone, the
 * GraphQL ceiling). Each is its own process.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repin, startAndWait, type ManagedProcess } from './processes';
import { connectorEnvName, discoverConnectorModules } from '../../src/gateway';
import { baselineEventLoop, hubEventLoop, type EventLoopProbe } from './event-loop';

/** The project root (this file runs from dist/bench/lib). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DIST_BENCH = path.join(ROOT, 'dist', 'bench');
/** The sandbox's default API key (departments/social-security). */
export const SOCIAL_SECURITY_API_KEY = 'sandbox-social-security-key';

/** The four department names, as `datarun sandbox` takes them. */
export const DEPARTMENTS = ['real-estate', 'social-security', 'tax', 'market-regulation'] as const;
export type Department = (typeof DEPARTMENTS)[number];
/** The fifth department, the housing provident fund (a GraphQL subgraph): only S3f asks it, and no baseline does. */
export const FUND_DEPARTMENT = 'housing-fund';

/** A running server: its process and where to send requests. */
export interface Running {
  process: ManagedProcess;
  /** The URL requests go to (`.../graphql` for GraphQL servers, the connection string for real estate). */
  url: string;
  /** Its event-loop delay, when it tells (the hub, B1, B2, B2-S3, C). */
  eventLoop?: EventLoopProbe;
}

/** Where the hub and B2 find the four departments. */
export type Endpoints = Record<Department, string>;

/**
 * The hub's modes:
 * - `secure`: `security.mode: signed` (every request signed by a registered consumer, checked
 *   against the sharing policy, sealed records, a signed receipt per reply) and the durable
 *   access log on (one fsync'd, hash-chained record per request before its reply);
 * - `secure-audit-off`: the same without the access log, the baseline of the audit target;
 * - `unsecured`: `security.mode: open` and no access log (sandbox demo and benchmarks only).
 */
export type HubMode = 'secure' | 'secure-audit-off' | 'unsecured';
/** The modes the hub runs in, in this order. */
export const HUB_MODES: readonly HubMode[] = ['secure', 'secure-audit-off', 'unsecured'];
/** Whether a mode's requests must be signed. */
export const isSigned = (mode: HubMode): boolean => mode !== 'unsecured';

/** Extra environment of the hub for one mode; `keysDir` holds the keys the benchmark signs with, `auditDir` a fresh log directory. */
export function hubModeEnv(mode: HubMode, dirs: { keysDir: string; auditDir: string }): NodeJS.ProcessEnv {
  return {
    DATARUN_SECURITY_MODE: isSigned(mode) ? 'signed' : 'open',
    DATARUN_KEYS_DIR: dirs.keysDir,
    DATARUN_AUDIT_ENABLED: mode === 'secure' ? 'true' : 'false',
    // The signed mode refuses to start without its access log unless told this is the benchmark's baseline.
    ...(mode === 'secure-audit-off' ? { DATARUN_AUDIT_BENCHMARK_ONLY_DISABLE: 'true' } : {}),
    DATARUN_AUDIT_DIR: dirs.auditDir,
    // DATARUN_AUDIT_FSYNC=false in the bench's own environment: the "sink without fsync" baseline of the audit target.
    ...(process.env.DATARUN_AUDIT_FSYNC ? { DATARUN_AUDIT_FSYNC: process.env.DATARUN_AUDIT_FSYNC } : {}),
  };
}

/** The environment without any DATARUN_* setting of the caller's shell, so that only ours apply. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DATARUN_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Starts one sandbox department system as its own process (on both cores while it loads, since
 * nothing is measured yet), then pins all its threads to `cpus`.
 */
export async function startSandbox(
  name: Department | typeof FUND_DEPARTMENT,
  options: { size: number; seed: number; latencyMs?: number; cpus?: string; label?: string; databaseUrl?: string },
): Promise<Running & { readyMs: number }> {
  const args = [CLI, 'sandbox', name, '--port', '0', '--size', String(options.size), '--seed', String(options.seed)];
  if (options.latencyMs) args.push('--latency', String(options.latencyMs));
  // Real estate on a PostgreSQL server of the bench's: the sandbox loads it and puts its counting proxy in front.
  if (options.databaseUrl) args.push('--database-url', options.databaseUrl);
  const { process: p, match } = await startAndWait({
    name: options.label ?? `sandbox ${name}`,
    command: process.execPath,
    args,
    env: cleanEnv({}),
    ready: /listening at (\S+) .*ready in (\d+) ms/,
    timeoutMs: 180_000,
  });
  if (options.cpus) repin(p.pid, options.cpus);
  return { process: p, url: match[1]!, readyMs: Number(match[2]) };
}

let hubStarts = 0;

/**
 * The departments' settings as the hub reads them from the environment: the given ones, and
 * every other connector the hub would find left out (so that no embedded sandbox runs beside it).
 */
function hubConnectorEnv(endpoints: Partial<Record<string, string>>): NodeJS.ProcessEnv {
  const settings: Record<string, Record<string, string>> = {
    'real-estate': { url: endpoints['real-estate']! },
    'social-security': { baseUrl: endpoints['social-security']!, apiKey: SOCIAL_SECURITY_API_KEY },
    tax: { url: endpoints.tax! },
    'market-regulation': { baseUrl: endpoints['market-regulation']! },
    ...(endpoints['housing-fund'] ? { 'housing-fund': { url: endpoints['housing-fund'] } } : {}),
  };
  const env: NodeJS.ProcessEnv = {};
  for (const { module } of discoverConnectorModules()) {
    const own = settings[module.id];
    if (!own) env[connectorEnvName(module.id, 'enabled')] = 'false';
    else for (const [key, value] of Object.entries(own)) env[connectorEnvName(module.id, key)] = value;
  }
  return env;
}

/** `--hub-heap-growth`: the hubs' `memory.heapGrowthPercent` (DATARUN_HEAP_GROWTH_PERCENT); undefined: the hub's default. */
let hubHeapGrowthPercent: number | undefined;

/** Sets the heap growth every hub started after it runs with (`--hub-heap-growth`; 0 for V8's own heuristics). */
export function setHubHeapGrowth(percent: number | undefined): void {
  hubHeapGrowthPercent = percent;
}

/** Starts the hub on the given departments, pinned to `cpus`; `nodeArgs` are Node flags (e.g. --cpu-prof). Its access log goes to a fresh directory under `tmpDir`. */
export async function startHub(
  endpoints: Endpoints & { 'housing-fund'?: string },
  options: {
    mode: HubMode;
    keysDir: string;
    tmpDir: string;
    cpus?: string;
    nodeArgs?: string[];
    /** The record cache (default on). */
    cache?: boolean;
    /** A configuration file (DATARUN_CONFIG) under the environment's settings (row E: webhooks' allow-list, the feeds' poll interval; row F: the peer hub). */
    configFile?: string;
    /** The process's name in the bench's messages (row F: which city's hub). @default `hub (<mode>)` */
    label?: string;
  },
): Promise<Running & { operatorUrl: string }> {
  const env = cleanEnv({
    ...hubConnectorEnv(endpoints),
    DATARUN_HOST: '127.0.0.1',
    DATARUN_PORT: '0',
    DATARUN_LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...hubModeEnv(options.mode, { keysDir: options.keysDir, auditDir: path.join(options.tmpDir, `audit-${++hubStarts}`) }),
    // Each start is a fresh log: a fresh instance too (a hub refuses a known instance's log that is gone).
    DATARUN_INSTANCE_ID: `bench-${hubStarts}`,
    DATARUN_CACHE_ENABLED: options.cache === false ? 'false' : 'true',
    ...(hubHeapGrowthPercent !== undefined ? { DATARUN_HEAP_GROWTH_PERCENT: String(hubHeapGrowthPercent) } : {}),
    ...(options.configFile ? { DATARUN_CONFIG: options.configFile } : {}),
  });
  const { process: p, match } = await startAndWait({
    name: options.label ?? `hub (${options.mode}${options.cache === false ? ', no cache' : ''})`,
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), CLI, 'serve'],
    env,
    ...(options.cpus ? { cpus: options.cpus } : {}),
    // With DATARUN_PORT=0 the operator listener takes a free port too; the hub prints both lines in one write.
    ready: /hub ready at (http:\/\/\S+\/graphql)\n\s*operator routes at (http:\/\/[^\s(]+)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]!, operatorUrl: match[2]!, eventLoop: hubEventLoop(match[2]!) };
}

/**
 * Row F: the five department sandboxes of one of its seeds (`bench/city-departments.ts`) in one
 * process, pinned to `cpus` once loaded; real estate on `databaseUrl` when given, else embedded PGlite.
 */
export async function startCityDepartments(
  role: 'serving' | 'requesting' | 'single',
  options: { size: number; seed: number; cpus?: string; databaseUrl?: string },
): Promise<{ process: ManagedProcess; endpoints: Endpoints & { 'housing-fund': string }; readyMs: number }> {
  const { process: p, match } = await startAndWait({
    name: `departments (${role})`,
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'city-departments.js'), role, String(options.size), String(options.seed), ...(options.databaseUrl ? [options.databaseUrl] : [])],
    env: cleanEnv({}),
    ready: /city departments \S+ ready in (\d+) ms: (\{.*\})/,
    timeoutMs: 180_000,
  });
  if (options.cpus) repin(p.pid, options.cpus);
  return { process: p, endpoints: JSON.parse(match[2]!) as Endpoints & { 'housing-fund': string }, readyMs: Number(match[1]) };
}

/** Starts B1 (Apollo Server standalone answering from memory) with the reply in `replyFile`. */
export async function startB1(replyFile: string, options: { cpus?: string }): Promise<Running> {
  const { process: p, match } = await startAndWait({
    name: 'B1 apollo-memory',
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'baselines', 'apollo-memory.js')],
    env: cleanEnv({ B1_REPLY_FILE: replyFile, B1_PORT: '0', NODE_ENV: 'production' }),
    ...(options.cpus ? { cpus: options.cpus } : {}),
    ready: /B1 ready at (\S+) \(event loop (\S+)\)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]!, eventLoop: baselineEventLoop(match[2]!) };
}

/** Starts C (graphql-js `execute` over a cached document on `node:http`, the GraphQL ceiling) with the reply in `replyFile`. */
export async function startC(replyFile: string, options: { cpus?: string }): Promise<Running> {
  const { process: p, match } = await startAndWait({
    name: 'C graphql-ceiling',
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'baselines', 'graphql-ceiling.js')],
    env: cleanEnv({ C_REPLY_FILE: replyFile, C_PORT: '0', NODE_ENV: 'production' }),
    ...(options.cpus ? { cpus: options.cpus } : {}),
    ready: /C ready at (\S+) \(event loop (\S+)\)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]!, eventLoop: baselineEventLoop(match[2]!) };
}

/** The environment of the plain-Node baselines: where the four departments are. */
function plainEnv(endpoints: Endpoints): NodeJS.ProcessEnv {
  return {
    B2_RE_URL: endpoints['real-estate'],
    B2_SS_URL: endpoints['social-security'],
    B2_SS_KEY: SOCIAL_SECURITY_API_KEY,
    B2_TAX_URL: endpoints.tax,
    B2_MR_URL: endpoints['market-regulation'],
    NODE_ENV: 'production',
  };
}

/** Starts B2 (the plain Node integrator's service) on the given departments. */
export async function startB2(endpoints: Endpoints, options: { cpus?: string }): Promise<Running> {
  const { process: p, match } = await startAndWait({
    name: 'B2 plain-node',
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'baselines', 'plain-node.js')],
    env: cleanEnv({ ...plainEnv(endpoints), B2_PORT: '0' }),
    ...(options.cpus ? { cpus: options.cpus } : {}),
    ready: /B2 ready at (\S+) \(event loop (\S+)\)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]!, eventLoop: baselineEventLoop(match[2]!) };
}

/** Starts B2-S3 (the plain Node living-allowance service) on the given departments. */
export async function startB2S3(endpoints: Endpoints, options: { cpus?: string }): Promise<Running> {
  const { process: p, match } = await startAndWait({
    name: 'B2-S3 living-allowance',
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'baselines', 'living-allowance.js')],
    env: cleanEnv({ ...plainEnv(endpoints), B2S3_PORT: '0' }),
    ...(options.cpus ? { cpus: options.cpus } : {}),
    ready: /B2-S3 ready at (\S+) \(event loop (\S+)\)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]!, eventLoop: baselineEventLoop(match[2]!) };
}

/**
 * Runs Mesh Compose over bench/mesh/mesh.config.ts against the sandboxes and writes the supergraph
 * to `output` (a short step, not measured). Returns the compose time in milliseconds.
 */
export function composeMesh(endpoints: Endpoints, output: string, options: { cpus?: string }): number {
  const started = performance.now();
  // bench/package.json installs Mesh (npm run bench:install), apart from the project's own dependencies.
  const bin = path.join(ROOT, 'bench', 'node_modules', '.bin', 'mesh-compose');
  const command = options.cpus ? 'taskset' : bin;
  const args = options.cpus ? ['-c', options.cpus, bin, '-o', output] : ['-o', output];
  const result = spawnSync(command, args, {
    cwd: path.join(ROOT, 'bench', 'mesh'),
    env: cleanEnv({ SS_URL: endpoints['social-security'], SS_API_KEY: SOCIAL_SECURITY_API_KEY, MR_URL: endpoints['market-regulation'] }),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`mesh-compose failed (exit ${String(result.status)}):\n${(result.stdout ?? '') + (result.stderr ?? '')}`.slice(0, 4000));
  return performance.now() - started;
}

/** Starts B3 (Hive Gateway runtime over the composed supergraph). */
export async function startB3(supergraph: string, options: { cpus?: string }): Promise<Running> {
  const { process: p, match } = await startAndWait({
    name: 'B3 mesh',
    command: process.execPath,
    args: [path.join(DIST_BENCH, 'mesh', 'gateway.js')],
    env: cleanEnv({ B3_SUPERGRAPH: supergraph, B3_PORT: '0', NODE_ENV: 'production' }),
    ...(options.cpus ? { cpus: options.cpus } : {}),
    ready: /B3 ready at (\S+)/,
    timeoutMs: 60_000,
  });
  return { process: p, url: match[1]! };
}

/** Changes the latency of an HTTP sandbox through its control route (`POST /__sandbox/faults`). */
export async function setSandboxLatency(sandboxUrl: string, latencyMs: number): Promise<void> {
  const res = await fetch(new URL('/__sandbox/faults', sandboxUrl), { method: 'POST', body: JSON.stringify({ latencyMs }) });
  if (!res.ok) throw new Error(`could not set the latency of ${sandboxUrl}: HTTP ${res.status}`);
}

/** Total calls an HTTP sandbox has received (`GET /__sandbox/calls`). */
export async function sandboxCalls(sandboxUrl: string): Promise<number> {
  const res = await fetch(new URL('/__sandbox/calls', sandboxUrl));
  const body = (await res.json()) as { total: number };
  return body.total;
}
