/**
 * The sandbox department systems: each folder of `departments/` whose `index` exports a
 * `sandboxModule` registers itself here, under the id of the connector it stands in for. They are
 * started together for `npm start` on embedded defaults, the end-to-end tests and the benchmarks;
 * each sandbox is its own server with its own store.
 */
import { existsSync, readdirSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { FaultSettings, Sandbox, SandboxModule } from './sandbox-kit';
import type { SeedData } from './seed/model';

export { generateSeed, DEFAULT_SEED_OPTIONS, SEED_CITIES, SEED_REFERENCE_DATE } from './seed/generate';
export type { CrossCityOptions, SeedOptions } from './seed/generate';
export type { SeedCity, SeedData } from './seed/model';
export { SandboxControl, DEFAULT_FAULTS, CHANGE_FEED_OPERATION } from './sandbox-kit';
export type { Sandbox, FaultSettings, SandboxModule } from './sandbox-kit';

/** A sandbox name: the id of the connector it stands in for. */
export type SandboxName = string;

let registered: readonly SandboxModule[] | undefined;

/** Every registered sandbox, sorted by id (each folder with an `index` exporting `sandboxModule`). */
export function sandboxModules(): readonly SandboxModule[] {
  if (registered) return registered;
  const modules: SandboxModule[] = [];
  for (const entry of readdirSync(__dirname, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const entryFile = ['index.js', 'index.ts'].map((f) => path.join(__dirname, entry.name, f)).find((f) => existsSync(f));
    if (!entryFile) continue;
    const candidate = (require(entryFile) as { sandboxModule?: SandboxModule }).sandboxModule;
    if (!candidate) continue;
    if (candidate.id !== entry.name) throw new Error(`departments/${entry.name} registers a sandbox for "${candidate.id}": the folder and the id must match`);
    modules.push(candidate);
  }
  registered = Object.freeze(modules.sort((a, b) => (a.id < b.id ? -1 : 1)));
  return registered;
}

/** The names of the registered sandboxes, as `datarun sandbox <name>` takes them. */
export function sandboxNames(): string[] {
  return sandboxModules().map((m) => m.id);
}

function moduleOf(name: string): SandboxModule {
  const found = sandboxModules().find((m) => m.id === name);
  if (!found) throw new Error(`unknown sandbox "${name}": expected one of ${sandboxNames().join(', ')}`);
  return found;
}

/** Starts one sandbox on a loopback port (0 = any free port). */
export async function startSandbox(name: SandboxName, data: SeedData, options: { port?: number; host?: string; databaseUrl?: string } = {}): Promise<Sandbox> {
  return moduleOf(name).start(data, { port: options.port ?? 0, host: options.host ?? '127.0.0.1', ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) });
}

/** The connector settings (`connectors.<id>.*`) that point at a running sandbox. */
export function sandboxSettings(name: SandboxName, sandbox: Sandbox): Record<string, unknown> {
  return moduleOf(name).settings(sandbox);
}

/** Sandboxes of one seed, started in-process. */
export interface SandboxSet {
  readonly data: SeedData;
  readonly sandboxes: Readonly<Record<SandboxName, Sandbox>>;
  /** Connector settings pointing at these sandboxes, by connector id. */
  readonly endpoints: Readonly<Record<SandboxName, Record<string, unknown>>>;
  close(): Promise<void>;
}

/**
 * Starts sandboxes over one seed, in parallel: every registered one, or those named in `only`.
 * `databaseUrl` is handed to the sandboxes that load into a database of their own (real estate).
 */
export async function startSandboxes(data: SeedData, options: { databaseUrl?: string; only?: readonly string[] } = {}): Promise<SandboxSet> {
  const names = options.only ? [...options.only] : sandboxNames();
  names.forEach(moduleOf);
  const started = await Promise.allSettled(names.map((name) => startSandbox(name, data, options.databaseUrl ? { databaseUrl: options.databaseUrl } : {})));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw failed.reason;
  }
  const sandboxes: Record<string, Sandbox> = {};
  const endpoints: Record<string, Record<string, unknown>> = {};
  names.forEach((name, i) => {
    const sandbox = (started[i] as PromiseFulfilledResult<Sandbox>).value;
    sandboxes[name] = sandbox;
    endpoints[name] = sandboxSettings(name, sandbox);
  });
  return {
    data,
    sandboxes,
    endpoints,
    async close() {
      await Promise.allSettled(Object.values(sandboxes).map((s) => s.close()));
    },
  };
}

/**
 * Control routes over a set of in-process sandboxes, for the hub in embedded mode:
 * `GET /__sandbox/calls` (calls per sandbox department, and which departments are external),
 * `POST /__sandbox/faults/<name>` (a JSON patch of FaultSettings; refused with 409 for a
 * department configured as an external system), `POST /__sandbox/reset`, and each sandbox's own
 * change routes under its name (`POST /__sandbox/<name>/<route>`, e.g. `/__sandbox/tax/arrears`).
 * Returns false for other paths.
 */
export function sandboxSetControl(set: SandboxSet, options: { external?: readonly string[] } = {}): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const names = Object.keys(set.sandboxes).sort();
  const external = [...(options.external ?? [])].sort();
  return (req, res) => {
    if (!req.url?.startsWith('/__sandbox/')) return false;
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const calls = () => ({
      ...Object.fromEntries(names.map((n) => [n, { sandbox: true, total: set.sandboxes[n]!.control.totalCalls(), byOperation: Object.fromEntries(set.sandboxes[n]!.control.calls) }])),
      ...Object.fromEntries(external.map((n) => [n, { sandbox: false }])),
    });
    const fault = /^\/__sandbox\/faults\/([a-z0-9-]+)$/.exec(req.url);
    const change = /^\/__sandbox\/([a-z0-9-]+)(\/[a-z0-9-]+)$/.exec(req.url);
    if (change && change[1] !== 'faults' && set.sandboxes[change[1]!]?.routes) {
      // A sandbox's own change route, under its name: /__sandbox/real-estate/seizures → its /__sandbox/seizures.
      const original = req.url;
      req.url = `/__sandbox${change[2]!}`;
      if (set.sandboxes[change[1]!]!.routes!(req, res)) return true;
      req.url = original;
    }
    if (req.method === 'GET' && req.url === '/__sandbox/calls') reply(200, calls());
    else if (req.method === 'POST' && req.url === '/__sandbox/reset') {
      for (const n of names) set.sandboxes[n]!.control.reset();
      reply(200, calls());
    } else if (req.method === 'POST' && fault) {
      const name = fault[1]!;
      const sandbox = set.sandboxes[name];
      if (!sandbox) {
        req.resume();
        if (external.includes(name)) reply(409, { error: `department "${name}" is an external system configured in connectors.${name}, not a sandbox: faults are injected only into sandboxes` });
        else reply(404, { error: `unknown sandbox "${name}": expected one of ${names.join(', ')}` });
        return true;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        try {
          sandbox.control.setFaults(JSON.parse(body || '{}') as Partial<FaultSettings>);
          reply(200, sandbox.control.faults);
        } catch (error) {
          reply(400, { error: error instanceof Error ? error.message : 'bad fault settings' });
        }
      });
    } else reply(404, { error: 'unknown sandbox control route' });
    return true;
  };
}
