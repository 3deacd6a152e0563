import type { GraphQLSchema } from 'graphql';
import { createMarketRegulationConnector } from '../../connectors/market-regulation';
import { createRealEstateConnector } from '../../connectors/real-estate';
import { createSocialSecurityConnector } from '../../connectors/social-security';
import { createTaxConnector } from '../../connectors/tax';
import type { Connector } from '../sdk';
import type { ConnectorsConfig, HubConfig } from './config';
import { buildHubSchema } from './schema';

/** The four department connectors, by id. */
export const CONNECTOR_IDS = ['real-estate', 'social-security', 'tax', 'market-regulation'] as const;
/** One of the four department connector ids. */
export type ConnectorId = (typeof CONNECTOR_IDS)[number];

/** Where every department system is, once configuration and embedded sandboxes are combined. */
export type DepartmentEndpoints = Required<{ [K in keyof ConnectorsConfig]-?: NonNullable<ConnectorsConfig[K]> }>;

/** The connectors of the four departments, each with the configured timeout unless it sets its own. */
export function createConnectors(endpoints: DepartmentEndpoints, defaultTimeoutMs: number): Connector[] {
  const re = endpoints['real-estate'];
  const ss = endpoints['social-security'];
  const mr = endpoints['market-regulation'];
  return [
    createRealEstateConnector({ url: re.url, timeoutMs: re.timeoutMs ?? defaultTimeoutMs, ...(re.poolSize ? { poolSize: re.poolSize } : {}) }),
    createSocialSecurityConnector({ baseUrl: ss.baseUrl, apiKey: ss.apiKey, timeoutMs: ss.timeoutMs ?? defaultTimeoutMs, ...(ss.connections ? { connections: ss.connections } : {}) }),
    createTaxConnector({ url: endpoints.tax.url, timeoutMs: endpoints.tax.timeoutMs ?? defaultTimeoutMs, ...(endpoints.tax.connections ? { connections: endpoints.tax.connections } : {}) }),
    createMarketRegulationConnector({ baseUrl: mr.baseUrl, timeoutMs: mr.timeoutMs ?? defaultTimeoutMs, ...(mr.connections ? { connections: mr.connections } : {}) }),
  ] as Connector[];
}

/** The gateway: connectors started and one executable schema over them. */
export interface Gateway {
  readonly schema: GraphQLSchema;
  readonly connectors: readonly Connector[];
  stop(): Promise<void>;
}

/** Starts the connectors and builds the schema; stops the ones already started if one fails. */
export async function createGateway(config: Pick<HubConfig, 'connectorTimeoutMs'>, endpoints: DepartmentEndpoints): Promise<Gateway> {
  const connectors = createConnectors(endpoints, config.connectorTimeoutMs);
  const schema = buildHubSchema(connectors);
  const started: Connector[] = [];
  try {
    for (const c of connectors) {
      await c.start();
      started.push(c);
    }
  } catch (error) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw error;
  }
  return {
    schema,
    connectors,
    async stop() {
      await Promise.allSettled(connectors.map((c) => c.stop()));
    },
  };
}
