/**
 * The social security sandbox 社会保险: a REST/JSON department system on node:http, with its own
 * store of insured persons and employer accounts, an API key, and the kit's faults and counters.
 */
import http from 'node:http';
import { SandboxControl, closeServer, listen, type Sandbox, type SandboxModule } from '../sandbox-kit';
import type { SeedData } from '../seed/model';
import { createSocialSecurityHandler } from './api';
import { createSocialSecurityStore } from './store';

export { SOCIAL_SECURITY_API_PREFIX, MAX_BATCH_IDS, MAX_CONTRIBUTION_MONTHS } from './api';
export type { InsuredRow, ContributionRow, EmployerAccountRow, SocialSecurityStore } from './store';

/** The API key the sandbox accepts unless told otherwise (header `x-api-key`). */
export const DEFAULT_SOCIAL_SECURITY_API_KEY = 'sandbox-social-security-key';

/** How to start the social security sandbox. */
export interface SocialSecuritySandboxOptions {
  /** The seed; the sandbox loads `insured` and `employerAccounts` into its own store. */
  data: Pick<SeedData, 'insured' | 'employerAccounts'>;
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
  /**
   * The API key clients must send in `x-api-key`.
   * @default DEFAULT_SOCIAL_SECURITY_API_KEY
   */
  apiKey?: string;
}

/** Starts the sandbox; its `url` (`http://host:port`, without the `/api/v1` prefix) is the connector's baseUrl. */
export async function startSocialSecuritySandbox(options: SocialSecuritySandboxOptions): Promise<Sandbox> {
  const apiKey = options.apiKey ?? DEFAULT_SOCIAL_SECURITY_API_KEY;
  if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('apiKey must be a non-empty string');
  const control = new SandboxControl();
  const store = createSocialSecurityStore(options.data);
  const server = http.createServer(createSocialSecurityHandler({ store, control, apiKey }));
  // Outlive the client's keep-alive (undici keeps idle sockets 30 s) so pooled connections are reused, not raced.
  server.keepAliveTimeout = 65_000;
  const address = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    name: 'social-security',
    url: `http://${host}:${address.port}`,
    control,
    close: () => closeServer(server),
  };
}

/** Registers the sandbox with `departments/`: it stands in for the `social-security` connector. */
export const sandboxModule: SandboxModule = {
  id: 'social-security',
  start: (data, options = {}) => startSocialSecuritySandbox({ data, ...options }),
  settings: (sandbox) => ({ baseUrl: sandbox.url, apiKey: DEFAULT_SOCIAL_SECURITY_API_KEY }),
};
