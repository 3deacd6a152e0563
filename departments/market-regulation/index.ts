/**
 * The market-regulation 市场监管 sandbox: a REST/JSON department system with batch lookups,
 * cursor paging, ETags and a change feed (registrations, status changes, abnormal-operation
 * listings, licences, permits, penalties) fed by its `/__sandbox/...` change routes.
 */
import http from 'node:http';
import { SandboxControl, closeServer, listen, serveChangeRoutes, type Sandbox, type SandboxModule } from '../sandbox-kit';
import type { EnterpriseStatus, SeedData, SeedEnterprise } from '../seed/model';
import { createMarketRegulationHandler, marketRegulationChangeRoutes } from './handler';
import { MarketRegulationStore, type ChangeEvent } from './store';

export { LATEST_CHANGE_CURSOR, MARKET_REGULATION_OPERATIONS, MAX_IDS_PER_CALL, PAGE_LIMITS, marketRegulationChangeRoutes } from './handler';
export { CHANGE_KINDS, MarketRegulationStore } from './store';
export type { AbnormalListing, ChangeEvent, ChangeKind, NewEnterprise, StoredEnterprise } from './store';

/** Options of `startMarketRegulationSandbox`. */
export interface MarketRegulationSandboxOptions {
  /** The seed; the sandbox copies its enterprises and change feed into its own store. */
  data: Pick<SeedData, 'enterprises' | 'enterpriseEvents'>;
  /**
   * Port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
}

/** A running market-regulation sandbox, with the run-time changes that feed its change feed. */
export interface MarketRegulationSandbox extends Sandbox {
  /** The department's store (read it in tests; change it through the methods below). */
  readonly store: MarketRegulationStore;
  /** Changes an enterprise's status: its version and ETag change and a STATUS_CHANGED event is appended. */
  emitStatusChange(creditCode: string, status: EnterpriseStatus): ChangeEvent;
  /** Registers a new enterprise and appends a REGISTERED event. */
  registerEnterprise(enterprise: SeedEnterprise): ChangeEvent;
}

/** Starts the market-regulation sandbox on node:http. */
export async function startMarketRegulationSandbox(options: MarketRegulationSandboxOptions): Promise<MarketRegulationSandbox> {
  const store = new MarketRegulationStore(options.data);
  const control = new SandboxControl();
  const server = http.createServer(createMarketRegulationHandler(store, control));
  const routes = marketRegulationChangeRoutes(store);
  // Keep connections open longer than Node's 5 s default so benchmark clients rarely reconnect.
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? '127.0.0.1';
  const address = await listen(server, options.port ?? 0, host);
  return {
    name: 'market-regulation',
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    control,
    store,
    emitStatusChange: (creditCode, status) => store.changeStatus(creditCode, status),
    registerEnterprise: (enterprise) => store.register(enterprise),
    routes: (req, res) => serveChangeRoutes(routes, req, res),
    close: () => closeServer(server),
  };
}

/** Registers the sandbox with `departments/`: it stands in for the `market-regulation` connector. */
export const sandboxModule: SandboxModule = {
  id: 'market-regulation',
  start: (data, options = {}) => startMarketRegulationSandbox({ data, ...options }),
  settings: (sandbox) => ({ baseUrl: sandbox.url }),
};
