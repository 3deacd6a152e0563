/**
 * The housing provident fund sandbox 住房公积金: an Apollo Federation 2 subgraph on node:http
 * (`POST /graphql`), with its own store of personal and employer accounts built from the seed,
 * and the kit's faults and counters.
 */
import http from 'node:http';
import { SandboxControl, closeServer, listen, type Sandbox, type SandboxModule } from '../sandbox-kit';
import type { SeedData } from '../seed/model';
import { createHousingFundHandler } from './handler';
import { createHousingFundSchema } from './schema';
import { createHousingFundStore } from './store';

export { HOUSING_FUND_SDL, MAX_REPRESENTATIONS, createHousingFundSchema } from './schema';
export { HOUSING_FUND_GRAPHQL_PATH, HOUSING_FUND_OPERATIONS, MAX_BODY_BYTES, MAX_DEPTH, MAX_VALUES } from './handler';
export { createHousingFundStore } from './store';
export type { FundAccountRow, FundContributionRow, FundEmployerRow, FundLoanRow, FundWithdrawalRow, HousingFundStore } from './store';

/** How to start the housing fund sandbox. */
export interface HousingFundSandboxOptions {
  /** The seed; the sandbox loads `fundAccounts` and `fundEmployers` into its own store. */
  data: Pick<SeedData, 'fundAccounts' | 'fundEmployers'>;
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

/** Starts the sandbox; its `url` (`http://host:port/graphql`) is where the GraphQL connector posts. */
export async function startHousingFundSandbox(options: HousingFundSandboxOptions): Promise<Sandbox> {
  const control = new SandboxControl();
  const schema = createHousingFundSchema(createHousingFundStore(options.data));
  const server = http.createServer(createHousingFundHandler(schema, control));
  // Outlive the client's keep-alive (undici keeps idle sockets 30 s) so pooled connections are reused, not raced.
  server.keepAliveTimeout = 65_000;
  const address = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    name: 'housing-fund',
    url: `http://${host}:${address.port}/graphql`,
    control,
    close: () => closeServer(server),
  };
}

/** The sandbox as `departments/` registers it: it stands in for the `housing-fund` connector, which needs only its URL. */
export const sandboxModule: SandboxModule = {
  id: 'housing-fund',
  start: (data, options = {}) => startHousingFundSandbox({ data, port: options.port, host: options.host }),
  settings: (sandbox) => ({ url: sandbox.url }),
};
