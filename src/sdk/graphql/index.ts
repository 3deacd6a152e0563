/**
 * The generic GraphQL connector: puts a department that already runs GraphQL (an Apollo
 * Federation subgraph or a plain service) behind the hub by configuration. See
 * docs/graphql-connector.md.
 */
export { graphqlConnectorModule, graphqlModuleFromSettings, fetchRemoteSdl } from './module';
export type { GraphqlConnectorOptions, GraphqlConnectorModule, GraphqlSettingsSchema } from './module';
export { createGraphqlConnector, GRAPHQL_MAX_BATCH } from './connector';
export type { GraphqlLoaders, GraphqlConnectorParts } from './connector';
export { createGraphqlClient, parseGraphqlReply } from './client';
export type { GraphqlClient, GraphqlClientOptions, GraphqlReply, RemoteError } from './client';
export { derivePlan, DEFAULT_SHARED_ENTITIES } from './plan';
export type { GraphqlPlan, TypePlan, FieldPlan, RootPlan, ResolvedClassification, DerivePlanOptions } from './plan';
export { parseRemoteSchema } from './remote-schema';
export type { RemoteSchema, RemoteObjectType, RemoteField } from './remote-schema';
export {
  graphqlSettingsSchema,
  classificationSchema,
  parseClassification,
  DEFAULT_CLASSIFICATION,
} from './settings';
export type { GraphqlSettings, GraphqlMode, PlainBatch, ClassificationInput, GraphqlClassification } from './settings';
export type { GraphqlRecord } from './records';
