/**
 * The four sandbox department systems, started together: for `npm start` on embedded defaults,
 * the end-to-end tests and the benchmarks. Each sandbox is its own server with its own store.
 */
import { startMarketRegulationSandbox } from './market-regulation';
import { startRealEstateSandbox } from './real-estate';
import type http from 'node:http';
import type { FaultSettings, Sandbox } from './sandbox-kit';
import type { SeedData } from './seed/model';
import { DEFAULT_SOCIAL_SECURITY_API_KEY, startSocialSecuritySandbox } from './social-security';
import { startTaxSandbox } from './tax';

export { generateSeed, DEFAULT_SEED_OPTIONS, SEED_REFERENCE_DATE } from './seed/generate';
export type { SeedData } from './seed/model';
export { SandboxControl, DEFAULT_FAULTS } from './sandbox-kit';
export type { Sandbox, FaultSettings } from './sandbox-kit';

/** The sandbox names, as `datarun sandbox <name>` takes them (the ids of their connectors). */
export const SANDBOX_NAMES = ['real-estate', 'social-security', 'tax', 'market-regulation'] as const;
/** One sandbox name. */
export type SandboxName = (typeof SANDBOX_NAMES)[number];

/** Starts one sandbox on a loopback port (0 = any free port). */
export async function startSandbox(name: SandboxName, data: SeedData, options: { port?: number; host?: string; databaseUrl?: string } = {}): Promise<Sandbox> {
  const common = { data, port: options.port ?? 0, host: options.host ?? '127.0.0.1' };
  switch (name) {
    case 'real-estate':
      // With an external database, the counting proxy stays in front so that faults and counters work.
      return startRealEstateSandbox({ ...common, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl, proxy: true } : {}) });
    case 'social-security':
      return startSocialSecuritySandbox(common);
    case 'tax':
      return startTaxSandbox(common);
    case 'market-regulation':
      return startMarketRegulationSandbox(common);
  }
}

/** The four sandboxes of one seed, started in-process. */
export interface SandboxSet {
  readonly data: SeedData;
  readonly sandboxes: Readonly<Record<SandboxName, Sandbox>>;
  /** Connector settings pointing at these sandboxes. */
  readonly endpoints: {
    'real-estate': { url: string };
    'social-security': { baseUrl: string; apiKey: string };
    tax: { url: string };
    'market-regulation': { baseUrl: string };
  };
  close(): Promise<void>;
}

/** Starts all four sandboxes over one seed, in parallel. */
export async function startSandboxes(data: SeedData, options: { databaseUrl?: string } = {}): Promise<SandboxSet> {
  const started = await Promise.allSettled(SANDBOX_NAMES.map((name) => startSandbox(name, data, name === 'real-estate' ? options : {})));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw failed.reason;
  }
  const [re, ss, tax, mr] = started.map((s) => (s as PromiseFulfilledResult<Sandbox>).value) as [Sandbox, Sandbox, Sandbox, Sandbox];
  return {
    data,
    sandboxes: { 'real-estate': re, 'social-security': ss, tax, 'market-regulation': mr },
    endpoints: {
      'real-estate': { url: re.url },
      'social-security': { baseUrl: ss.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY },
      tax: { url: tax.url },
      'market-regulation': { baseUrl: mr.url },
    },
    async close() {
      await Promise.allSettled([re, ss, tax, mr].map((s) => s.close()));
    },
  };
}

/**
 * Control routes over a set of in-process sandboxes, for the hub in embedded mode:
 * `GET /__sandbox/calls` (calls per department), `POST /__sandbox/faults/<name>` (a JSON patch of
 * FaultSettings), `POST /__sandbox/reset`. Returns false for other paths.
 */
export function sandboxSetControl(set: SandboxSet): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    if (!req.url?.startsWith('/__sandbox/')) return false;
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const calls = () =>
      Object.fromEntries(SANDBOX_NAMES.map((n) => [n, { total: set.sandboxes[n].control.totalCalls(), byOperation: Object.fromEntries(set.sandboxes[n].control.calls) }]));
    const fault = /^\/__sandbox\/faults\/([a-z-]+)$/.exec(req.url);
    if (req.method === 'GET' && req.url === '/__sandbox/calls') reply(200, calls());
    else if (req.method === 'POST' && req.url === '/__sandbox/reset') {
      for (const n of SANDBOX_NAMES) set.sandboxes[n].control.reset();
      reply(200, calls());
    } else if (req.method === 'POST' && fault) {
      const sandbox = (set.sandboxes as Record<string, Sandbox>)[fault[1]!];
      if (!sandbox) return reply(404, { error: `unknown sandbox "${fault[1]}": expected one of ${SANDBOX_NAMES.join(', ')}` }), true;
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
