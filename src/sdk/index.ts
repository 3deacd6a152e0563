/**
 * The connector SDK: the one module a connector imports. It holds the connector contract, the
 * per-request loader helpers, the upstream HTTP client, the error codes, identifier checks and
 * the generated resolver types of the graph.
 */
export { defineConnector, createBatchLoader, DEFAULT_MAX_BATCH_SIZE } from './connector';
export type { Connector, ConnectorDefinition, ConnectorHealth, SealSpec, BatchLoaderOptions } from './connector';
export { defineConnectorModule, sdlFile, settingSchemas, CONNECTOR_ID_PATTERN } from './module';
/** The zod the SDK validates settings with: a connector's settings schema must be made with it. */
export { z } from 'zod';
export type { ConnectorModule, ConnectorEnvironment, FederationTrust, PeerSealCheck, ConnectorSettingsSchema, ChangeFeed, ChangeFeedRead } from './module';
export { EVENT_TYPE_PATTERN } from './events';
export type { DepartmentEvent, EventTypeSpec, EventSubjectKind, EventDetailValue } from './events';
export { PROOF_KIND_PATTERN, chinaTime, proofSubjectId } from './proofs';
export { parseDateTime, parseFullDate } from './instants';
export type { ProofEstablisher, ProofFacts, ProofKindSpec, ProofSubject } from './proofs';
export { createHubContext } from './context';
export type { HubContext, HubContextOptions, RequestScope, LoaderCache, ConnectorCache } from './context';
export {
  HubError,
  HubErrorCode,
  BadUserInputError,
  ConnectorUnavailableError,
  ConnectorTimeoutError,
  UpstreamInvalidResponseError,
  ConnectorDefinitionError,
  isUpstreamError,
} from './errors';
export type { HubErrorExtensions } from './errors';
export { ERROR_CODES, CLI_EXIT, CLI_EXIT_MEANING, errorInfo, isErrorCode, clientCode } from './error-codes';
export type { ErrorCode, ErrorCodeInfo, ErrorLevel, CliExitCode } from './error-codes';
export { DeadlineExceededError, isDeadlineAbort } from './deadline';
export { createHttpUpstream, mapHttpFailure, withTimeout, DEFAULT_HTTP_UPSTREAM } from './upstream';
export type { HttpUpstream, HttpUpstreamOptions, UpstreamRequest, UpstreamResponse } from './upstream';
export {
  traceDepartmentCall,
  currentPropagation,
  sqlTraceComment,
  parseTraceparent,
  formatTraceparent,
  tracingActive,
  registerTracingGateway,
  withHubTracer,
} from './tracing';
export type { TracePropagation, DepartmentCallInfo } from './tracing';
export {
  citizenIdProblem,
  creditCodeProblem,
  unitNumberProblem,
  citizenIdCheckChar,
  creditCodeCheckChar,
  orgCodeCheckChar,
  citizenIdFacts,
} from './identifiers';
export { partyRef } from './refs';
export { createByteLru, type ByteLru, type ByteLruOptions } from './lru';
export type { PersonRef, EnterpriseRef, PropertyRef, PartyRef } from './refs';
export type * from './generated/graphql';
export {
  graphqlConnectorModule,
  graphqlModuleFromSettings,
  fetchRemoteSdl,
  createGraphqlConnector,
  GRAPHQL_MAX_BATCH,
  derivePlan,
  parseRemoteSchema,
  graphqlSettingsSchema,
  classificationSchema,
  parseClassification,
  DEFAULT_SHARED_ENTITIES,
  DEFAULT_CLASSIFICATION,
} from './graphql';
export type {
  GraphqlConnectorOptions,
  GraphqlConnectorModule,
  GraphqlSettingsSchema,
  GraphqlLoaders,
  GraphqlPlan,
  GraphqlSettings,
  GraphqlMode,
  PlainBatch,
  ClassificationInput,
  GraphqlClassification,
  GraphqlRecord,
} from './graphql';
