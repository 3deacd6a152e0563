/**
 * The real-estate registration sandbox 不动产登记: the department's exchange database 前置库, a
 * real PostgreSQL engine holding units, owners, mortgages, seizures and transfers, reached over
 * the PostgreSQL wire protocol. Embedded by default (PGlite, no install), or any PostgreSQL server.
 */
import http from 'node:http';
import { Client } from 'pg';
import { SandboxControl, closeServer, listen, serveChangeRoutes, serveControl, type Sandbox, type SandboxChangeRoute, type SandboxModule } from '../sandbox-kit';
import type { SeedData } from '../seed/model';
import { realEstateChangeRoutes, type RegistryTransaction } from './changes';
import { startPgliteEngine } from './pglite-worker';
import { REAL_ESTATE_SCHEMA, checkSchemaName, realEstateLoadPlan, type LoadStep } from './tables';
import { startWireProxy, type WireProxy } from './wire-proxy';

export { REAL_ESTATE_SCHEMA, realEstateLoadPlan, createTablesSql, createKeysAndIndexesSql } from './tables';
export { PROPERTY_CHANGE_TYPES, createChangeTableSql, realEstateChangeRoutes } from './changes';
export type { PropertyChangeType, RecordedPropertyChange, RegistryTransaction } from './changes';
export type { LoadStep } from './tables';
export { SQL_OPERATION } from './wire-proxy';
export { PGLITE_MAX_CONNECTIONS } from './pglite-worker';

/** How to start the real-estate sandbox. */
export interface RealEstateSandboxOptions {
  /** The seed; the sandbox loads `properties` into its tables. */
  data: Pick<SeedData, 'properties'>;
  /**
   * Port the sandbox's PostgreSQL endpoint listens on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * A PostgreSQL server to use instead of the embedded engine (`postgres://user@host:port/db`).
   * The sandbox drops and recreates `schema` there and loads the seed into it.
   */
  databaseUrl?: string;
  /**
   * With `databaseUrl`: put the sandbox's counting and fault-injecting proxy in front of that
   * server, so that `url` points at the proxy. Without it, `url` is `databaseUrl` itself, and
   * statements are neither counted nor faulted (the sandbox does not see them).
   * @default false
   */
  proxy?: boolean;
  /**
   * Schema holding the tables.
   * @default REAL_ESTATE_SCHEMA ('real_estate')
   */
  schema?: string;
}

/** The sandbox, with the timings of its start (for benchmarks and the report of a load). */
export interface RealEstateSandbox extends Sandbox {
  /** Milliseconds spent building the rows, starting the engine and loading the tables. */
  readonly timings: { prepareMs: number; engineStartMs: number; loadMs: number };
  /** The registry's change routes (transfers, mortgages, seizures...), each recorded with its row in the change table. */
  readonly changeRoutes: Readonly<Record<string, SandboxChangeRoute>>;
  /** Where the change and control routes answer over HTTP (the database's own address, with `http:`), when the proxy runs. */
  readonly controlUrl: string | undefined;
}

/**
 * The registry's writer: one connection of its own (not through the proxy, so neither counted nor
 * faulted), one transaction at a time, each run while the proxy forwards nothing else (`exclusive`).
 */
function createRegistryWriter(connection: string, exclusive: <T>(work: () => Promise<T>) => Promise<T>): { transaction: RegistryTransaction; close(): Promise<void> } {
  let client: Promise<Client> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const connect = (): Promise<Client> => {
    if (!client) {
      const created = new Client({ connectionString: connection, application_name: 'datarun-real-estate-registry' });
      created.on('error', () => {
        client = undefined;
      });
      client = created.connect().then(() => created, (error: unknown) => {
        client = undefined;
        throw error;
      });
    }
    return client;
  };
  const transaction: RegistryTransaction = (work) => {
    const run = chain.then(() =>
      exclusive(async () => {
        const c = await connect();
        await c.query('BEGIN');
        try {
          const result = await work(c);
          await c.query('COMMIT');
          return result;
        } catch (error) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }),
    );
    chain = run.catch(() => undefined);
    return run;
  };
  return {
    transaction,
    async close() {
      const open = client;
      client = undefined;
      await open?.then((c) => c.end()).catch(() => undefined);
    },
  };
}

/** The HTTP server of the control routes (the kit's and the registry's change routes), on a loopback port. */
async function startControlServer(control: SandboxControl, routes: Readonly<Record<string, SandboxChangeRoute>>): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    if (serveChangeRoutes(routes, req, res) || serveControl(control, req, res)) return;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such route: the real-estate registry answers SQL here, and /__sandbox/... control routes"}');
  });
  const address = await listen(server, 0, '127.0.0.1');
  return { server, port: address.port };
}

/**
 * Starts the sandbox. Its `url` is the connector's connection string. Every SQL statement a
 * client runs through it is counted under `sql`; the kit's faults act on the wire (see README).
 */
export async function startRealEstateSandbox(options: RealEstateSandboxOptions): Promise<RealEstateSandbox> {
  if (typeof options !== 'object' || options === null || !Array.isArray(options.data?.properties)) {
    throw new TypeError('real-estate sandbox: option "data" must be seed data with a "properties" array');
  }
  const schema = checkSchemaName(options.schema ?? REAL_ESTATE_SCHEMA);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const control = new SandboxControl();
  const prepared = performance.now();
  const steps = realEstateLoadPlan(schema, options.data);
  const prepareMs = performance.now() - prepared;

  if (options.databaseUrl === undefined) {
    const engine = await startPgliteEngine(steps);
    let proxy: WireProxy | undefined;
    const writer = createRegistryWriter(`postgres://postgres@127.0.0.1:${engine.port}/postgres`, (work) => proxy!.exclusive(work));
    const changeRoutes = realEstateChangeRoutes(schema, writer.transaction);
    let controlServer: { server: http.Server; port: number } | undefined;
    try {
      controlServer = await startControlServer(control, changeRoutes);
      proxy = await startWireProxy({ control, upstreamHost: '127.0.0.1', upstreamPort: engine.port, host, port, serialize: true, httpPort: controlServer.port });
    } catch (error) {
      if (controlServer) await closeServer(controlServer.server);
      await engine.close();
      throw error;
    }
    const running = proxy;
    return {
      name: 'real-estate',
      url: `postgres://postgres@${urlHost(running.host)}:${running.port}/postgres`,
      control,
      timings: { prepareMs, engineStartMs: engine.startMs, loadMs: engine.loadMs },
      changeRoutes,
      controlUrl: `http://${urlHost(running.host)}:${running.port}`,
      routes: (req, res) => serveChangeRoutes(changeRoutes, req, res),
      close: async () => {
        await running.close();
        await closeServer(controlServer.server);
        await writer.close();
        await engine.close();
      },
    };
  }

  const target = parseDatabaseUrl(options.databaseUrl);
  const loaded = performance.now();
  await loadThroughClient(options.databaseUrl, steps);
  const loadMs = performance.now() - loaded;
  const timings = { prepareMs, engineStartMs: 0, loadMs };
  // A real PostgreSQL runs transactions side by side: the writer needs no exclusive turn.
  const writer = createRegistryWriter(options.databaseUrl, (work) => work());
  const changeRoutes = realEstateChangeRoutes(schema, writer.transaction);
  const routes = (req: http.IncomingMessage, res: http.ServerResponse): boolean => serveChangeRoutes(changeRoutes, req, res);
  if (!options.proxy) {
    return { name: 'real-estate', url: options.databaseUrl, control, timings, changeRoutes, controlUrl: undefined, routes, close: () => writer.close() };
  }
  const controlServer = await startControlServer(control, changeRoutes);
  let proxy: WireProxy;
  try {
    proxy = await startWireProxy({ control, upstreamHost: target.hostname, upstreamPort: target.port, host, port, serialize: false, httpPort: controlServer.port });
  } catch (error) {
    await closeServer(controlServer.server);
    throw error;
  }
  const proxied = new URL(options.databaseUrl);
  proxied.hostname = urlHost(proxy.host);
  proxied.port = String(proxy.port);
  return {
    name: 'real-estate',
    url: proxied.toString(),
    control,
    timings,
    changeRoutes,
    controlUrl: `http://${urlHost(proxy.host)}:${proxy.port}`,
    routes,
    close: async () => {
      await proxy.close();
      await closeServer(controlServer.server);
      await writer.close();
    },
  };
}

/** Runs the load on a server of the caller's through a direct connection: not through the proxy, so not counted. */
async function loadThroughClient(databaseUrl: string, steps: readonly LoadStep[]): Promise<void> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'datarun-real-estate-sandbox' });
  await client.connect();
  try {
    for (const step of steps) await client.query(step.sql, step.params);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

function parseDatabaseUrl(databaseUrl: string): { hostname: string; port: number } {
  let url: URL | undefined;
  try {
    url = new URL(databaseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.hostname === '') {
    // The URL may hold a password: it is not echoed.
    throw new TypeError('real-estate sandbox: option "databaseUrl" must be a postgres:// URL with a host');
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 5432 : Number(url.port) };
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Registers the sandbox with `departments/`: it stands in for the `real-estate` connector. */
export const sandboxModule: SandboxModule = {
  id: 'real-estate',
  // With an external database, the counting proxy stays in front so that faults and counters work.
  start: (data, options = {}) => startRealEstateSandbox({ data, ...options, ...(options.databaseUrl ? { proxy: true } : {}) }),
  settings: (sandbox) => ({ url: sandbox.url }),
};
