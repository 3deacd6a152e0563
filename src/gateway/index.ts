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
export { createRequestPath } from './request-path';
export type { RequestPath, RequestPathLogger, GatewayReply } from './request-path';
export type { Caller, RequestContext } from './request-context';
export { auditSigner, auditSubjectSecret, auditVerifier } from './audit';
export { DEFAULT_AUDIT_DIR, DEFAULT_KEYS_DIR } from './config';
// What adapters (src/http) need of the hub's error contract, policy and signed requests.
export { HubError, HubErrorCode } from '../sdk';
export { CONSENT_HEADER } from '../policy';
export type { AllowedDecision, Decision } from '../policy';
export { UnauthenticatedError } from '../seal';
