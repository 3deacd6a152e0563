/**
 * The connector of a department that runs GraphQL: per-request loaders that fetch whole records
 * in one call per batch (`_entities` for a federation subgraph, a batch root field or aliased
 * root fields for a plain service), resolvers that answer the hub's fields from those records,
 * and a seal per keyed record type.
 */
import type DataLoader from 'dataloader';
import { print } from 'graphql';
import { createBatchLoader, defineConnector, type Connector, type SealSpec } from '../connector';
import type { RequestScope } from '../context';
import { ConnectorDefinitionError, ConnectorUnavailableError, UpstreamInvalidResponseError } from '../errors';
import type { Resolvers } from '../generated/graphql';
import type { GraphqlClient, GraphqlReply, RemoteError } from './client';
import { remoteErrorsFailure } from './client';
import type { FieldPlan, GraphqlPlan, RootPlan, TypePlan } from './plan';
import { keyString, ReplyReader, type FoundRecord, type GraphqlRecord } from './records';

/** Most keys one department call carries. */
export const GRAPHQL_MAX_BATCH = 100;

/** The per-request loaders of a GraphQL connector. */
export interface GraphqlLoaders {
  /** The record of a shared entity (the connector's fields only) or of a keyed type, by key; null when the department has none. */
  record(typeName: string, key: string): Promise<GraphqlRecord | null>;
  /** The value of a root field for its arguments (one call per batch of distinct argument sets). */
  root(field: string, args: Record<string, unknown>): Promise<unknown>;
  /** The underlying DataLoader of a type's records (tests and priming). */
  recordLoader(typeName: string): DataLoader<string, GraphqlRecord | null>;
}

/** What `createGraphqlConnector` needs. */
export interface GraphqlConnectorParts {
  readonly id: string;
  readonly title: string;
  readonly plan: GraphqlPlan;
  readonly client: GraphqlClient;
}

/** Name of the record-cache loader of a type's records and of a root field. */
export const recordLoaderName = (typeName: string): string => typeName;
const rootLoaderName = (field: string): string => `Query.${field}`;

/** JSON with sorted object keys, so equal arguments make equal loader keys. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A key back in the type of the key field (an Int key is sent as a number). */
function keyValue(type: TypePlan, key: string): unknown {
  const field = type.fields.find((f) => f.name === type.key);
  return field?.named === 'Int' ? Number(key) : key;
}

/** Splits errors into those under `itemOf(path)` (one key each) and the rest (the whole call). */
function splitErrors(errors: readonly RemoteError[], itemOf: (path: readonly (string | number)[]) => number | undefined): { items: Map<number, RemoteError[]>; rest: RemoteError[] } {
  const items = new Map<number, RemoteError[]>();
  const rest: RemoteError[] = [];
  for (const error of errors) {
    const item = error.path ? itemOf(error.path) : undefined;
    if (item === undefined) rest.push(error);
    else items.set(item, [...(items.get(item) ?? []), error]);
  }
  return { items, rest };
}

/**
 * How long a failed key is remembered for readers that joined the failed call through the
 * shared record cache (its single-flight gives them "no record"): they must see the failure.
 */
const FAILURE_MEMORY_MS = 5000;

/** Creates the connector from its plan and client. */
export function createGraphqlConnector(parts: GraphqlConnectorParts): Connector<GraphqlLoaders> {
  const { id, plan, client } = parts;
  const invalid = (reason: string) => new UpstreamInvalidResponseError(id, reason);
  const recentFailures = new Map<string, { error: Error; at: number }>();

  function rememberFailure(name: string, key: string, error: Error | undefined): void {
    const k = `${name}\u0000${key}`;
    if (error) {
      recentFailures.set(k, { error, at: Date.now() });
      if (recentFailures.size > 10_000) recentFailures.delete(recentFailures.keys().next().value!);
    } else {
      recentFailures.delete(k);
    }
  }

  function itemFailure(errors: readonly RemoteError[]): ConnectorUnavailableError {
    const codes = [...new Set(errors.map((e) => e.code).filter((c): c is string => c !== undefined))].slice(0, 3);
    return new ConnectorUnavailableError(id, `the department reported an error for this record${codes.length > 0 ? ` (${codes.join(', ')})` : ''}`);
  }

  /** Rejects a reply whose errors concern the whole call, or that lacks data. */
  function dataOf(reply: GraphqlReply, rest: readonly RemoteError[]): Record<string, unknown> {
    if (rest.length > 0) throw remoteErrorsFailure(id, rest);
    if (reply.data === null) throw remoteErrorsFailure(id, reply.errors);
    return reply.data;
  }

  /** One call for the records of `type` (`keys` at most a batch): found records, and the keys the department failed. */
  async function fetchRecords(type: TypePlan, keys: readonly string[], signal: AbortSignal): Promise<{ found: Map<string, GraphqlRecord>; failed: Map<string, Error>; nested: FoundRecord[] }> {
    const selection = plan.selectionOf(type.name);
    const reader = new ReplyReader(plan, id);
    const found = new Map<string, GraphqlRecord>();
    const failed = new Map<string, Error>();
    let items: unknown[];
    let itemErrors: Map<number, RemoteError[]>;
    if (plan.mode === 'federation') {
      const query = `query DatarunEntities($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on ${type.name} { ${selection} } } }`;
      const representations = keys.map((key) => ({ __typename: type.name, [type.key!]: keyValue(type, key) }));
      const reply = await client.call(query, { representations }, signal, { operation: `entities ${type.name}`, batchSize: keys.length });
      const split = splitErrors(reply.errors, (path) => (path[0] === '_entities' && typeof path[1] === 'number' && path[1] < keys.length ? path[1] : undefined));
      const data = dataOf(reply, split.rest);
      const list = data._entities;
      if (!Array.isArray(list)) throw invalid('_entities is not a list');
      if (list.length !== keys.length) throw invalid(`_entities has ${list.length} entries for ${keys.length} representations`);
      items = list;
      itemErrors = split.items;
      list.forEach((item, i) => {
        if (item !== null && !itemErrors.has(i) && (typeof item !== 'object' || (item as { __typename?: unknown }).__typename !== type.name)) throw invalid(`_entities[${i}] is not a ${type.name}`);
      });
    } else if (type.batch!.aliased === true) {
      const { rootField, argument, argumentType } = type.batch!;
      const variables: Record<string, unknown> = {};
      const definitions = keys.map((key, i) => {
        variables[`k${i}`] = keyValue(type, key);
        return `$k${i}: ${print(argumentType)}`;
      });
      const fields = keys.map((_, i) => `k${i}: ${rootField}(${argument}: $k${i}) { ${selection} }`);
      const reply = await client.call(`query DatarunRecords(${definitions.join(', ')}) { ${fields.join(' ')} }`, variables, signal, { operation: `records ${type.name}`, batchSize: keys.length });
      const split = splitErrors(reply.errors, (path) => {
        const m = typeof path[0] === 'string' ? /^k(\d+)$/.exec(path[0]) : null;
        return m && Number(m[1]) < keys.length ? Number(m[1]) : undefined;
      });
      const data = dataOf(reply, split.rest);
      items = keys.map((_, i) => {
        if (!(`k${i}` in data)) throw invalid(`the reply lacks the record asked for as k${i}`);
        return data[`k${i}`];
      });
      itemErrors = split.items;
    } else {
      const { rootField, argument, argumentType } = type.batch!;
      const query = `query DatarunRecords($keys: ${print(argumentType)}) { records: ${rootField}(${argument}: $keys) { ${selection} } }`;
      const reply = await client.call(query, { keys: keys.map((key) => keyValue(type, key)) }, signal, { operation: `records ${type.name}`, batchSize: keys.length });
      const split = splitErrors(reply.errors, (path) => (path[0] === 'records' && typeof path[1] === 'number' && path[1] < keys.length ? path[1] : undefined));
      const data = dataOf(reply, split.rest);
      const list = data.records;
      if (!Array.isArray(list)) throw invalid(`${rootField} did not return a list`);
      if (list.length !== keys.length) throw invalid(`${rootField} returned ${list.length} records for ${keys.length} keys`);
      items = list;
      itemErrors = split.items;
    }
    items.forEach((item, i) => {
      const key = keys[i]!;
      const errors = itemErrors.get(i);
      // A record the department reported an error for may be incomplete: it is refused, not served.
      if (errors) failed.set(key, itemFailure(errors));
      else if (item !== null) {
        const record = reader.record(type.name, item);
        if (type.kind === 'keyed' && keyString(record[type.key!]) !== key) throw invalid(`the ${type.name} returned for a key has another key`);
        found.set(key, record);
      }
    });
    return { found, failed, nested: reader.found };
  }

  /** One call for a root field's values under several argument sets (aliases r0..rN). */
  async function fetchRoot(root: RootPlan, argKeys: readonly string[], signal: AbortSignal): Promise<{ found: Map<string, unknown>; failed: Map<string, Error>; nested: FoundRecord[] }> {
    const reader = new ReplyReader(plan, id);
    const variables: Record<string, unknown> = {};
    const definitions: string[] = [];
    const fields = argKeys.map((argKey, i) => {
      const args = JSON.parse(argKey) as Record<string, unknown>;
      const passed = root.field.args.filter((a) => args[a.name.value] !== undefined);
      for (const a of passed) {
        variables[`r${i}_${a.name.value}`] = args[a.name.value];
        definitions.push(`$r${i}_${a.name.value}: ${print(a.type)}`);
      }
      const argText = passed.length > 0 ? `(${passed.map((a) => `${a.name.value}: $r${i}_${a.name.value}`).join(', ')})` : '';
      // A record is fetched whole, a keyed one included, so that it can be sealed and cached as it is.
      const selection = root.target === 'leaf' ? '' : ` { ${plan.selectionOf(root.named)} }`;
      return `r${i}: ${root.name}${argText}${selection}`;
    });
    const reply = await client.call(`query DatarunRoot${definitions.length > 0 ? `(${definitions.join(', ')})` : ''} { ${fields.join(' ')} }`, variables, signal, { operation: `root ${root.name}`, batchSize: argKeys.length });
    const split = splitErrors(reply.errors, (path) => {
      const m = typeof path[0] === 'string' ? /^r(\d+)$/.exec(path[0]) : null;
      return m && Number(m[1]) < argKeys.length ? Number(m[1]) : undefined;
    });
    const data = dataOf(reply, split.rest);
    const found = new Map<string, unknown>();
    const failed = new Map<string, Error>();
    argKeys.forEach((argKey, i) => {
      const errors = split.items.get(i);
      if (errors) {
        failed.set(argKey, itemFailure(errors));
        return;
      }
      if (!(`r${i}` in data)) throw invalid(`the reply lacks the root field asked for as r${i}`);
      const value = reader.value(root.field.type, data[`r${i}`], `Query.${root.name}`);
      if (value !== null) found.set(argKey, value);
    });
    return { found, failed, nested: reader.found };
  }

  return defineConnector<GraphqlLoaders>({
    id,
    title: parts.title,
    createLoaders(scope: RequestScope): GraphqlLoaders {
      const records = new Map<string, DataLoader<string, GraphqlRecord | null>>();
      const roots = new Map<string, DataLoader<string, unknown>>();
      const failures = new Map<string, Error>();
      const cacheOf = (name: string) => (scope.cache ? { cache: scope.cache.loader(name) } : {});

      const prime = (nested: readonly FoundRecord[]) => {
        for (const { typeName, key, record } of nested) recordLoader(typeName).prime(key, record);
      };
      const noteOutcome = (name: string, keys: readonly string[], failed: ReadonlyMap<string, Error>) => {
        for (const key of keys) {
          const error = failed.get(key);
          if (error) failures.set(`${name}\u0000${key}`, error);
          rememberFailure(name, key, error);
        }
      };
      const failureOf = (name: string, key: string): Error | undefined => {
        const own = failures.get(`${name}\u0000${key}`);
        if (own || !scope.cache) return own;
        const shared = recentFailures.get(`${name}\u0000${key}`);
        return shared && Date.now() - shared.at <= FAILURE_MEMORY_MS ? shared.error : undefined;
      };

      function recordLoader(typeName: string): DataLoader<string, GraphqlRecord | null> {
        let loader = records.get(typeName);
        if (!loader) {
          const type = plan.types.get(typeName);
          if (!type || type.kind === 'object') throw new ConnectorDefinitionError(`GraphQL connector "${id}": ${typeName} is not a type it loads by key`);
          const name = recordLoaderName(typeName);
          loader = createBatchLoader<string, GraphqlRecord>(
            async (keys) => {
              const { found, failed, nested } = await fetchRecords(type, keys, scope.signal);
              noteOutcome(name, keys, failed);
              prime(nested.filter((n) => !(n.typeName === typeName && found.get(n.key) === n.record)));
              return found;
            },
            { maxBatchSize: GRAPHQL_MAX_BATCH, ...cacheOf(name) },
          );
          records.set(typeName, loader);
        }
        return loader;
      }

      function rootLoader(field: string): DataLoader<string, unknown> {
        let loader = roots.get(field);
        if (!loader) {
          const root = plan.roots.get(field)!;
          const name = rootLoaderName(field);
          loader = createBatchLoader<string, unknown>(
            async (argKeys) => {
              const { found, failed, nested } = await fetchRoot(root, argKeys, scope.signal);
              noteOutcome(name, argKeys, failed);
              prime(nested);
              return found;
            },
            { maxBatchSize: GRAPHQL_MAX_BATCH, ...cacheOf(name) },
          );
          roots.set(field, loader);
        }
        return loader;
      }

      return {
        recordLoader,
        async record(typeName, key) {
          const value = await recordLoader(typeName).load(key);
          if (value === null) {
            const error = failureOf(recordLoaderName(typeName), key);
            if (error) throw error;
          }
          return value;
        },
        async root(field, args) {
          const key = stableJson(args);
          const value = await rootLoader(field).load(key);
          if (value === null) {
            const error = failureOf(rootLoaderName(field), key);
            if (error) throw error;
          }
          return value;
        },
      };
    },
    resolvers: (loadersOf) => buildResolvers(plan, loadersOf),
    seals: buildSeals(plan),
    async probe() {
      const reply = await client.call('query DatarunHealth { __typename }', {});
      if (reply.errors.length > 0) throw remoteErrorsFailure(id, reply.errors);
      if (typeof reply.data?.__typename !== 'string') throw invalid('the health probe got no __typename');
    },
    stop: () => client.close(),
  });
}

/** True when `parent` holds every field of the type (a record read whole), false for a reference. */
function isWhole(type: TypePlan, parent: Record<string, unknown>): boolean {
  return type.fields.every((f) => f.name in parent);
}

type LoadersOf = (context: never) => GraphqlLoaders;

function buildResolvers(plan: GraphqlPlan, loadersOf: (context: { loadersOf<T>(c: Connector<T>): T }) => GraphqlLoaders): Resolvers {
  const resolvers: Record<string, Record<string, unknown>> = {};
  const loaders = loadersOf as unknown as LoadersOf;
  for (const type of plan.types.values()) {
    if (type.kind === 'object' || type.fields.length === 0) continue;
    const fields: Record<string, unknown> = {};
    for (const field of type.fields) {
      if (type.kind === 'keyed' && field.name === type.key) continue;
      fields[field.name] = async (parent: Record<string, unknown>, _args: unknown, ctx: never) => {
        // A record read whole (a keyed record inside another) answers from itself; a reference is loaded.
        if (type.kind === 'keyed' && field.name in parent) return parent[field.name];
        const record = await loaders(ctx).record(type.name, String(parent[type.key!]));
        return record === null ? null : (record[field.name] ?? null);
      };
    }
    resolvers[type.name] = fields;
  }
  const query: Record<string, unknown> = {};
  for (const root of plan.roots.values()) {
    query[root.name] = root.byKey
      ? (_: unknown, args: Record<string, unknown>, ctx: never) => loaders(ctx).record(root.byKey!.typeName, String(args[root.byKey!.argument]))
      : (_: unknown, args: Record<string, unknown>, ctx: never) => loaders(ctx).root(root.name, args);
  }
  if (Object.keys(query).length > 0) resolvers.Query = query;
  return resolvers as Resolvers;
}

/** The sealed value of a field: shared members only, entities as references whose key is shared. */
function sealValue(plan: GraphqlPlan, field: FieldPlan, value: unknown): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => sealValue(plan, field, v));
  if (field.target === 'object') return sealObject(plan, plan.types.get(field.named)!, value as Record<string, unknown>);
  return value;
}

function sealObject(plan: GraphqlPlan, type: TypePlan, record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fields) {
    if (field.classification.class === 'NOT_SHARED') continue;
    // A link to a keyed type whose key is not shared cannot be shown by a reply: it is left out.
    if (field.target === 'ref') {
      const target = plan.types.get(field.named)!;
      const keyPlan = target.fields.find((f) => f.name === target.key);
      if (target.kind === 'keyed' && keyPlan?.classification.class === 'NOT_SHARED') continue;
    }
    out[field.name] = sealValue(plan, field, record[field.name]);
  }
  return out;
}

/** A SealSpec per sealed type: the record as the graph shows it, shared fields only, links as references. */
function buildSeals(plan: GraphqlPlan): Record<string, SealSpec<GraphqlLoaders>> {
  const seals: Record<string, SealSpec<GraphqlLoaders>> = {};
  for (const type of plan.types.values()) {
    if (!type.sealed) continue;
    const key = type.key!;
    seals[type.name] = {
      recordType: type.name,
      load: async (parent: Record<string, unknown>, loaders: GraphqlLoaders) => (isWhole(type, parent) ? parent : loaders.record(type.name, String(parent[key]))),
      id: (record: Record<string, unknown>) => String(record[key]),
      fields: (record: Record<string, unknown>) => sealObject(plan, type, record),
    };
  }
  return seals;
}
