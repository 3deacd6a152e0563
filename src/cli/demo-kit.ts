/**
 * What the worked scenarios of `datarun demo` share: a hub of their own over the embedded sandbox
 * departments (signed mode, loopback ports, keys and data in a directory the demo owns), and the
 * checks that stop a demo at the first step that does not hold.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { sandboxSetControl, startSandboxes, type SandboxSet, type SeedData } from '../../departments';
import type { DataRunResponse } from '../client';
import { createGateway, loadConfig, modulesOfConfig, type DepartmentEndpoints, type Gateway, type HubConfig, type HubConfigInput } from '../gateway';
import { startHubServer, type HubServer } from '../http';
import { DEMO_OWNERS, initKeys, KEY_FILES, loadKeyStore } from '../seal';
import { CliUsageError } from './exit';

/** A step that did not hold: the demo stops with it. */
export class DemoStepError extends Error {
  constructor(step: string, problem: string) {
    super(`demo step "${step}" failed: ${problem}`);
    this.name = 'DemoStepError';
  }
}

/** Polls `probe` every 50 ms until it gives a value; a step error naming `what` after `ms`. */
export async function waitFor<T>(step: string, what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new DemoStepError(step, `${what} did not happen within ${Math.round(ms / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops the demo at `step` when the reply is not a 200 without errors, naming the first error. */
export function expectNoErrors(step: string, reply: DataRunResponse<unknown>): void {
  if (reply.status !== 200 || (reply.errors && reply.errors.length > 0)) {
    const first = reply.errors?.[0];
    throw new DemoStepError(step, `the hub answered ${reply.status}${first ? ` with ${String(first.extensions?.code ?? 'an error')}: ${first.message}` : ''}`);
  }
}

/** A demo's hub and its sandbox departments, running. */
export interface DemoHub {
  readonly config: HubConfig;
  readonly sandboxes: SandboxSet;
  readonly gateway: Gateway;
  readonly server: HubServer;
  /** Stops the listeners, the gateway (the access log signs its last tree head) and the sandboxes. */
  close(): Promise<void>;
}

/** Options of `startDemoHub`. */
export interface DemoHubOptions {
  /** The hub's data: its access log (`audit/`), webhook queue and cases go under it. */
  readonly dir: string;
  /** Its keys directory. @default `<dir>/keys` */
  readonly keysDir?: string;
  /** Its access log, to keep with kept keys (the keys directory remembers the log's newest head). @default `<dir>/audit` */
  readonly auditDir?: string;
  /** The seed its sandbox departments serve. */
  readonly data: SeedData;
  /** The access log's instance id. */
  readonly instanceId: string;
  /** More of the demo's own settings (webhooks, connectors, a policy file…), over the defaults here. */
  readonly overrides?: HubConfigInput;
}

/**
 * Starts the sandbox departments on `data` and a signed hub over them on free loopback ports,
 * from the demo's own settings only: no configuration file and no DATARUN_* variable reaches it.
 * A connector of `overrides.connectors` (a peer hub) joins the sandboxes.
 */
export async function startDemoHub(options: DemoHubOptions): Promise<DemoHub> {
  const { dir, overrides = {} } = options;
  const config = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      http: { port: 0, host: '127.0.0.1', operator: { port: 0, host: '127.0.0.1' } },
      security: { mode: 'signed' },
      keys: { dir: options.keysDir ?? path.join(dir, 'keys') },
      audit: { dir: options.auditDir ?? path.join(dir, 'audit'), instanceId: options.instanceId },
      webhooks: { dir: path.join(dir, 'webhooks'), ...overrides.webhooks },
      cases: { file: path.join(dir, 'cases', 'cases.jsonl') },
      logLevel: 'silent',
    },
  });
  const modules = modulesOfConfig(config);
  const sandboxes = await startSandboxes(options.data);
  let gateway: Gateway | undefined;
  try {
    const endpoints = { ...sandboxes.endpoints, ...config.connectors } as DepartmentEndpoints;
    gateway = await createGateway(config, endpoints, { modules, sandboxes: Object.keys(sandboxes.endpoints), logger: pino({ level: 'silent' }) });
    const server = await startHubServer({ gateway, logger: pino({ level: 'silent' }), ...config.http, extraRoutes: sandboxSetControl(sandboxes) });
    const live = gateway;
    return {
      config,
      sandboxes,
      gateway,
      server,
      async close() {
        await server.close();
        await live.stop();
        await sandboxes.close();
      },
    };
  } catch (error) {
    await gateway?.stop().catch(() => undefined);
    await sandboxes.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Makes (or keeps) a keys directory whose trust list is hub `hubId`'s, with the demo parties: the
 * hub itself under that id, the demo consumers (a peer hub's `taian-hub` among them) and their
 * keys. A directory already holding another hub's trust list is refused, naming both ids.
 */
export async function prepareDemoKeys(dir: string, hubId: string): Promise<void> {
  if (existsSync(path.join(dir, KEY_FILES.trustList))) {
    const existing = (await loadKeyStore(dir)).hubId;
    if (existing !== hubId) throw new CliUsageError(`${dir} holds the keys of hub "${existing}", not of hub "${hubId}": give another --keys directory`);
  }
  await initKeys(dir, { hubId, owners: DEMO_OWNERS.map((o) => (o.kind === 'hub' ? { ...o, id: hubId } : o)) });
}
