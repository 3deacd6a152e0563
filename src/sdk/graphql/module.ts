/**
 * `graphqlConnectorModule`: a department that already runs GraphQL is put behind the hub by
 * configuration. The module reads (or fetches) the remote SDL and the classification, derives
 * the hub SDL and the plan from them, and builds the connector from its settings.
 */
import { buildClientSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import type { Connector } from '../connector';
import { ConnectorDefinitionError, UpstreamInvalidResponseError } from '../errors';
import { defineConnectorModule, type ConnectorEnvironment, type ConnectorModule } from '../module';
import { DEFAULT_HTTP_UPSTREAM } from '../upstream';
import { createGraphqlClient, remoteErrorsFailure } from './client';
import { createGraphqlConnector, type GraphqlLoaders } from './connector';
import { DEFAULT_SHARED_ENTITIES, derivePlan, type GraphqlPlan } from './plan';
import { parseRemoteSchema } from './remote-schema';
import {
  graphqlSettingsSchema,
  parseClassification,
  readClassificationFile,
  readSettingFile,
  type ClassificationInput,
  type GraphqlClassification,
  type GraphqlSettings,
} from './settings';

/** What a department folder gives in code; each replaces the corresponding file setting. */
export interface GraphqlConnectorOptions {
  /** kebab-case connector id, also the `@share(department:)` of every field. */
  readonly id: string;
  /** The department's name, with the Chinese name where there is one. */
  readonly title: string;
  /** The remote SDL (or a function reading it once); replaces the `schemaFile` setting and the fetch. */
  readonly sdl?: string | (() => string);
  /** The classification (validated here, so a JSON import will do); replaces the `classificationFile` setting. */
  readonly classification?: ClassificationInput | object;
  /** Sealed types. @default every remote type with its own key that is not a shared entity */
  readonly sealed?: readonly string[];
  /** The hub's shared entities and their keys. @default { Person: 'idNumber', Enterprise: 'creditCode', Property: 'unitNumber' } */
  readonly entities?: Readonly<Record<string, string>>;
  /** Default lifetime of the connector's records in the hub's record cache, in seconds. @default 60 */
  readonly cacheTtlSeconds?: number;
  /** Settings variables of earlier releases (see ConnectorModule). */
  readonly legacyEnvironment?: Readonly<Record<string, string>>;
}

/** The settings schema of a GraphQL connector module. */
export type GraphqlSettingsSchema = typeof graphqlSettingsSchema;

/** A GraphQL connector module; `plan(settings)` exposes the derived plan (tests, diagnostics). */
export interface GraphqlConnectorModule extends ConnectorModule<GraphqlSettingsSchema> {
  /** The plan for these settings (the remote SDL read or fetched once per distinct settings). */
  plan(settings: GraphqlSettings): Promise<GraphqlPlan>;
  create(settings: GraphqlSettings, environment: ConnectorEnvironment): Connector<GraphqlLoaders>;
}

/** Fetches the remote SDL: `_service { sdl }` from a federation subgraph, introspection from a plain service. */
export async function fetchRemoteSdl(connector: string, settings: GraphqlSettings): Promise<string> {
  const client = createGraphqlClient({
    connector,
    url: settings.url,
    timeoutMs: settings.timeoutMs ?? DEFAULT_HTTP_UPSTREAM.timeoutMs,
    connections: 1,
    ...(settings.headers ? { headers: settings.headers } : {}),
  });
  try {
    if (settings.mode === 'federation') {
      const reply = await client.call('query DatarunServiceSdl { _service { sdl } }', {});
      if (reply.errors.length > 0) throw remoteErrorsFailure(connector, reply.errors);
      const service = reply.data?._service as { sdl?: unknown } | null | undefined;
      if (typeof service?.sdl !== 'string') throw new UpstreamInvalidResponseError(connector, '_service.sdl is not a string (is the service a federation subgraph?)');
      return service.sdl;
    }
    const reply = await client.call(getIntrospectionQuery({ descriptions: true }), {});
    if (reply.errors.length > 0) throw remoteErrorsFailure(connector, reply.errors);
    try {
      return printSchema(buildClientSchema(reply.data as unknown as IntrospectionQuery));
    } catch {
      throw new UpstreamInvalidResponseError(connector, 'the introspection result does not describe a schema');
    }
  } finally {
    await client.close();
  }
}

/** The memo key of what the plan depends on. */
function planKey(settings: GraphqlSettings): string {
  return JSON.stringify([settings.url, settings.mode, settings.schemaFile ?? null, settings.classificationFile ?? null, settings.batch ?? null]);
}

/**
 * A connector module for a department that runs GraphQL (a federation subgraph or a plain
 * service). `typeDefs(settings)` derives the hub SDL (fetching the remote SDL when neither `sdl`
 * nor `schemaFile` gives it); `create(settings)` builds the connector from the same plan, so
 * with a fetched SDL the hub calls `typeDefs` first.
 */
export function graphqlConnectorModule(options: GraphqlConnectorOptions): GraphqlConnectorModule {
  const { id } = options;
  const plans = new Map<string, GraphqlPlan | Promise<GraphqlPlan>>();
  const inCode = options.classification !== undefined ? parseClassification(id, options.classification) : undefined;
  const fail = (problem: string): never => {
    throw new ConnectorDefinitionError(`GraphQL connector "${id}": ${problem}`);
  };

  function classificationOf(settings: GraphqlSettings): GraphqlClassification {
    if (inCode !== undefined) {
      if (settings.classificationFile !== undefined) fail('classificationFile is not a setting of this connector: its folder gives the classification');
      return inCode;
    }
    return settings.classificationFile !== undefined ? readClassificationFile(id, settings.classificationFile) : {};
  }

  /** The remote SDL when it is at hand without a call (in code, or a file), else undefined. */
  function localSdl(settings: GraphqlSettings): string | undefined {
    if (options.sdl !== undefined) {
      if (settings.schemaFile !== undefined) fail('schemaFile is not a setting of this connector: its folder gives the remote SDL');
      return typeof options.sdl === 'function' ? options.sdl() : options.sdl;
    }
    return settings.schemaFile !== undefined ? readSettingFile(id, 'schemaFile', settings.schemaFile) : undefined;
  }

  function planFrom(settings: GraphqlSettings, sdl: string): GraphqlPlan {
    return derivePlan({
      connector: id,
      remote: parseRemoteSchema(id, sdl),
      classification: classificationOf(settings),
      mode: settings.mode,
      ...(settings.batch ? { batch: settings.batch } : {}),
      entities: options.entities ?? DEFAULT_SHARED_ENTITIES,
      ...(options.sealed ? { sealed: options.sealed } : {}),
    });
  }

  async function plan(settings: GraphqlSettings): Promise<GraphqlPlan> {
    const key = planKey(settings);
    const known = plans.get(key);
    if (known) return known;
    const local = localSdl(settings);
    const pending = local !== undefined ? Promise.resolve(planFrom(settings, local)) : fetchRemoteSdl(id, settings).then((sdl) => planFrom(settings, sdl));
    plans.set(key, pending);
    try {
      const done = await pending;
      plans.set(key, done);
      return done;
    } catch (error) {
      plans.delete(key);
      throw error;
    }
  }

  /** The plan without waiting: memoized, or derived now from a local SDL. */
  function planNow(settings: GraphqlSettings): GraphqlPlan {
    const known = plans.get(planKey(settings));
    if (known !== undefined && !(known instanceof Promise)) return known;
    const local = localSdl(settings);
    if (local === undefined) return fail('the remote SDL is fetched from the service: call typeDefs(settings) before create(settings)');
    const derived = planFrom(settings, local);
    plans.set(planKey(settings), derived);
    return derived;
  }

  const module: GraphqlConnectorModule = {
    id,
    title: options.title,
    settings: graphqlSettingsSchema,
    ...(options.legacyEnvironment ? { legacyEnvironment: options.legacyEnvironment } : {}),
    ...(options.cacheTtlSeconds !== undefined ? { cacheTtlSeconds: options.cacheTtlSeconds } : {}),
    plan,
    typeDefs: async (settings) => (await plan(settings)).typeDefs,
    create(settings, environment) {
      const derived = planNow(settings);
      const client = createGraphqlClient({
        connector: id,
        url: settings.url,
        timeoutMs: settings.timeoutMs ?? environment.defaultTimeoutMs,
        ...(settings.connections !== undefined ? { connections: settings.connections } : {}),
        ...(settings.headers ? { headers: settings.headers } : {}),
      });
      return createGraphqlConnector({ id, title: options.title, plan: derived, client });
    },
  };
  return defineConnectorModule(module) as GraphqlConnectorModule;
}

/**
 * The module of a connector configured only by settings (`connectors.<id>.type: "graphql"`
 * without a folder): its title is its id, its SDL comes from `schemaFile` or the service, its
 * classification from `classificationFile` (every field NOT_SHARED without one).
 */
export function graphqlModuleFromSettings(id: string): GraphqlConnectorModule {
  return graphqlConnectorModule({ id, title: id.length >= 3 ? id : `GraphQL department ${id}` });
}
