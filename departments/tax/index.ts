/**
 * The tax sandbox 税务: a SOAP 1.1 document/literal web service (node-soap on node:http) with a
 * WSDL, its own store of taxpayers, payments (deed tax 契税 per unit), arrears and credit ratings,
 * and the kit's faults and counters.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as soap from 'soap';
import { SandboxControl, closeServer, listen, serveChangeRoutes, type Sandbox, type SandboxModule } from '../sandbox-kit';
import type { SeedData } from '../seed/model';
import { taxChangeRoutes } from './changes';
import { createTaxHandler } from './handler';
import { createTaxServices } from './service';
import { createTaxStore, type TaxStore } from './store';

export { TAX_NAMESPACE, TAX_OPERATIONS, MAX_BATCH_IDS, CHANGES_LIMITS, LATEST_CHANGES_CURSOR } from './service';
export { taxChangeRoutes } from './changes';
export { TAX_CHANGE_TYPES, raiseArrear, settleArrear } from './store';
export type { TaxChangeEntry, TaxStore } from './store';
export type { TaxOperation } from './service';
export { MAX_REQUEST_BYTES } from './handler';

/** Path of the SOAP endpoint; the WSDL is served at `<endpoint>?wsdl`. */
export const TAX_ENDPOINT_PATH = '/services/TaxService';

/** How to start the tax sandbox. */
export interface TaxSandboxOptions {
  /** The seed; the sandbox loads `taxpayers` into its own store. */
  data: Pick<SeedData, 'taxpayers'>;
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

/** Reads tax.wsdl beside this module, or from the source tree when running compiled from dist/. */
function readWsdl(): string {
  const candidates = [path.join(__dirname, 'tax.wsdl'), path.join(__dirname, '..', '..', '..', 'departments', 'tax', 'tax.wsdl')];
  for (const file of candidates) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  }
  throw new Error(`tax.wsdl not found (looked in ${candidates.join(', ')})`);
}

/** A running tax sandbox, with its store (read it in tests; change it through the change routes). */
export interface TaxSandbox extends Sandbox {
  readonly store: TaxStore;
}

/** Starts the sandbox; its `url` is the SOAP endpoint (`http://host:port/services/TaxService`), the connector's `url`. */
export async function startTaxSandbox(options: TaxSandboxOptions): Promise<TaxSandbox> {
  const control = new SandboxControl();
  const store = createTaxStore(options.data);
  const wsdl = readWsdl();
  const server = http.createServer();
  // Outlive the client's keep-alive (undici keeps idle sockets 30 s) so pooled connections are reused, not raced.
  server.keepAliveTimeout = 65_000;
  // soap.listen installs its listener once the WSDL is parsed; take it over and put the fault front before it.
  await new Promise<void>((resolve, reject) => {
    soap.listen(server, {
      path: TAX_ENDPOINT_PATH,
      services: createTaxServices(store),
      xml: wsdl,
      suppressStack: true,
      callback: (error: unknown) => (error ? reject(error instanceof Error ? error : new Error('the tax WSDL could not be loaded')) : resolve()),
    });
  });
  const soapListener = server.listeners('request')[0] as http.RequestListener | undefined;
  if (soapListener === undefined) throw new Error('node-soap did not install its request listener');
  server.removeAllListeners('request');

  const address = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}${TAX_ENDPOINT_PATH}`;
  const servedWsdl = wsdl.replace(/(<soap:address location=")[^"]*(")/, `$1${url}$2`);
  const routes = taxChangeRoutes(store);
  server.on('request', createTaxHandler({ control, path: TAX_ENDPOINT_PATH, wsdl: () => servedWsdl, soap: soapListener, routes }));
  return { name: 'tax', url, control, store, routes: (req, res) => serveChangeRoutes(routes, req, res), close: () => closeServer(server) };
}

/** Registers the sandbox with `departments/`: it stands in for the `tax` connector. */
export const sandboxModule: SandboxModule = {
  id: 'tax',
  start: (data, options = {}) => startTaxSandbox({ data, ...options }),
  settings: (sandbox) => ({ url: sandbox.url }),
};
