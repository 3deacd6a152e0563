/** The gateway: configuration, the executable schema over schema/ and the connectors. */
export { createGateway, createConnectors, CONNECTOR_IDS } from './hub';
export type { Gateway, DepartmentEndpoints, ConnectorId } from './hub';
export { buildHubSchema, loadTypeDefs, SCHEMA_DIR } from './schema';
export { loadConfig, parseConfig, ConfigError } from './config';
export type { HubConfig, HubConfigInput, ConnectorsConfig } from './config';
export { rootResolvers, MAX_IDS_PER_ARGUMENT } from './root-resolvers';
export type { GatewayConfig, GatewayEvent, GatewayOptions, GatewayState } from './hub';
export { DEFAULT_CACHE_TTL_SECONDS } from './config';
export { ReplayGuardUnavailableError } from '../state';
