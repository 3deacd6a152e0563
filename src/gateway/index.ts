/** The gateway: configuration, the executable schema over schema/ and the connectors, and the request pipeline every adapter calls. */
export { createGateway, composeConnectors } from './hub';
export type { Gateway, DepartmentEndpoints, ComposedConnectors } from './hub';
export { BUILTIN_CONNECTORS_DIR, connectorDirsOf, discoverConnectorModules, modulesOfConfig } from './connector-modules';
export type { FoundConnectorModule } from './connector-modules';
export { connectorEnvName, CONNECTOR_ENV_PREFIX } from './connector-settings';
export { buildHubSchema, loadSharedTypeDefs, loadTypeDefs, SCHEMA_DIR } from './schema';
export { loadConfig, parseConfig, ConfigError, DEFAULT_OPERATOR } from './config';
export { createHubMetrics, UNKNOWN_LABEL } from './metrics';
export type { HubLogger, HubMetrics, HubMetricsOptions } from './metrics';
export type { HubConfig, HubConfigInput, ConnectorsConfig } from './config';
export { rootResolvers, MAX_IDS_PER_ARGUMENT } from './root-resolvers';
export type { GatewayConfig, GatewayEvent, GatewayOptions, GatewayState } from './hub';
export { createPipeline, DEFAULT_PIPELINE, MAX_DENIED_LISTED, MAX_VARIABLE_DEPTH } from './pipeline';
export type { ConsoleRequestSession, Pipeline, PipelineLogger, PipelineObserver, PipelineOptions, HubRequest, HubReply, GatewayReply, GraphQLBody, TransportRefusal, StandingOperation, DeliveryEffects } from './pipeline';
export { createSubscriptions } from './subscriptions';
export type { Subscriptions, SubscriptionStream, OpenedSubscription, SubscriptionsOptions } from './subscriptions';
export { createLocalEventStream, createSharedEventStream, DEFAULT_EVENT_STREAM } from './event-stream';
export type { EventStream, SharedEventStreamOptions } from './event-stream';
export { acceptedEvents, declaredEventTypes, eventTypeProblems, eventKeyOf, EVENTS_DEPARTMENT, MAX_EVENT_TYPES_PER_SUBSCRIPTION } from './events';
export type { HubEvent } from './events';
export type { Caller, RequestContext } from './request-context';
export { auditHeadFile, auditSigner, auditSubjectSecret, auditVerifier, openHubAuditLog } from './audit';
export { DEFAULT_AUDIT_DIR, DEFAULT_KEYS_DIR } from './config';
export { DEFAULT_LIMITS } from './limits';
export type { QueryLimits } from './limits';
// What adapters (src/http) need of the hub's error contract and headers.
export { HubError, HubErrorCode, errorInfo } from '../sdk';
export { CONSENT_HEADER } from '../policy';
export type { AllowedDecision, Decision } from '../policy';
export { createConsoleSessionStore, createConsoleSessions, viewOf as consoleSessionView, CONSOLE_PURPOSES, DEFAULT_CONSOLE_SESSIONS } from './console-sessions';
export type { ConsoleSession, ConsoleSessionPrincipal, ConsoleSessionStore, ConsoleSessionStoreOptions, ConsoleSessions, ConsoleSessionView } from './console-sessions';
export type { ConsoleExport, ConsoleExportFilter } from './console-export';
export { UnauthenticatedError } from '../seal';
// What the proof pages (src/http) need: their data source, and the QR payload and words of src/proofs.
export type { ProofDisplay, ProofPagesSource } from './proof-pages';
export { declaredProofKinds, type HubProofs, type HubProofKind, type IssuedHubProof, type ProofsSettings } from './proofs';
export { encodeProofForQr, decodeProofFromQr, proofReasonZh, maskIdentifier, beijingTime, PROOF_STATUS_ZH, PROOF_QR_PREFIX, MAX_PROOF_QR_CHARS } from '../proofs';
export type { ProofVerification, ProofVerified, ProofRejected, DecodedProofQr, ProofQrPayload } from '../proofs';
