import DataLoader from 'dataloader';
import type { LoaderCache, RequestScope } from './context';
import { ConnectorDefinitionError } from './errors';
import type { Resolvers } from './generated/graphql';
import type { ChangeFeed } from './module';
import type { ProofEstablisher } from './proofs';

/** A connector's answer to "can you reach your department system?". */
export interface ConnectorHealth {
  readonly connector: string;
  readonly ok: boolean;
  /** Round-trip time of the probe, in milliseconds. */
  readonly latencyMs: number;
  /** Why it is not ok (never personal data). */
  readonly reason?: string;
}

/**
 * The contract every connector implements. A connector puts one department system behind the
 * graph: it owns the resolvers of that department's fields, batches its upstream calls through
 * per-request DataLoaders, and reports its health.
 */
export interface Connector<L = unknown> {
  /** kebab-case id, used in errors, metrics, configuration and the audit log (`land-registry`). */
  readonly id: string;
  /** Human name of the department, e.g. "Real estate registration 不动产登记". */
  readonly title: string;
  /** Resolvers for the fields this department adds to the graph (schema/<id>.graphql). */
  readonly resolvers: Resolvers;
  /** Creates this connector's loaders for one request. */
  createLoaders(scope: RequestScope): L;
  /** Probes the department system; never throws. */
  health(): Promise<ConnectorHealth>;
  /** Opens pools and checks configuration; called once before the hub serves. */
  start(): Promise<void>;
  /** Closes pools; called once on shutdown. */
  stop(): Promise<void>;
  /** Sealed record types, by GraphQL type name (each such type has a `seal: Seal` field in the connector's SDL). */
  readonly seals: Readonly<Record<string, SealSpec<L>>>;
  /** The department's change feed, when it offers one: the hub evicts changed records from its cache. */
  readonly changeFeed?: ChangeFeed;
  /** Establishes the proof kinds its module declares (`ConnectorModule.proofs`), asking the department directly. */
  readonly proofs?: ProofEstablisher;
}

/**
 * How the records behind one GraphQL type of a connector are sealed: the hub seals each record
 * once, with the department's key, when it enters the hub (an SD-JWT over every field), and
 * discloses in a reply only the fields the reply shows.
 */
export interface SealSpec<L = unknown> {
  /** Record type named in the seal (`vct`), e.g. `RealEstateUnit`. */
  recordType: string;
  /** The department record behind a parent object of this type (through the request's loaders), or null. */
  load(parent: any, loaders: L): Promise<unknown>;
  /** The record's identifier (the seal's `sub`). */
  id(record: any): string;
  /**
   * The sealed fields, under their GraphQL field names and in the shape the graph shows them;
   * links to entities as references (`{ idNumber }`, `{ creditCode }`, `{ unitNumber }`).
   */
  fields(record: any): Record<string, unknown>;
}

/** What a connector author writes; `defineConnector` turns it into a `Connector`. */
export interface ConnectorDefinition<L> {
  id: string;
  title: string;
  createLoaders(scope: RequestScope): L;
  /** Builds the resolvers; `loaders(ctx)` returns this connector's loaders for the request. */
  resolvers(loaders: (context: { loadersOf<T>(c: Connector<T>): T }) => L): Resolvers;
  /** Probes the department; may throw, the SDK turns that into an unhealthy report. */
  probe(): Promise<void>;
  /** Sealed record types, by GraphQL type name. */
  seals?: Record<string, SealSpec<L>>;
  /** The department's change feed, if any. */
  changeFeed?: ChangeFeed;
  /** Establishes the module's proof kinds, if it declares any. */
  proofs?: ProofEstablisher;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** Turns a connector definition into a connector, adding health timing and safe defaults. */
export function defineConnector<L>(definition: ConnectorDefinition<L>): Connector<L> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(definition.id)) {
    throw new ConnectorDefinitionError(`Connector id must be kebab-case, but got: ${JSON.stringify(definition.id)}`);
  }
  const connector: Connector<L> = {
    id: definition.id,
    title: definition.title,
    resolvers: {},
    createLoaders: (scope) => definition.createLoaders(scope),
    async health() {
      const started = performance.now();
      try {
        await definition.probe();
        return { connector: definition.id, ok: true, latencyMs: Math.round(performance.now() - started) };
      } catch (error) {
        const reason = error instanceof Error ? error.message : 'probe failed';
        return { connector: definition.id, ok: false, latencyMs: Math.round(performance.now() - started), reason };
      }
    },
    start: async () => definition.start?.(),
    stop: async () => definition.stop?.(),
    seals: Object.freeze({ ...definition.seals }),
    ...(definition.changeFeed ? { changeFeed: definition.changeFeed } : {}),
    ...(definition.proofs ? { proofs: definition.proofs } : {}),
  };
  (connector as { resolvers: Resolvers }).resolvers = definition.resolvers((context) => context.loadersOf(connector));
  return connector;
}

/** Most identifiers one batch call may carry; larger batches are split by DataLoader. */
export const DEFAULT_MAX_BATCH_SIZE = 100;

/** Options of `createBatchLoader`. */
export interface BatchLoaderOptions {
  /** Most keys one batch call carries. @default DEFAULT_MAX_BATCH_SIZE (100) */
  maxBatchSize?: number;
  /** The hub's record cache for this loader (`scope.cache?.loader('name')`): hits skip the department. @default no cache */
  cache?: LoaderCache;
}

/**
 * A per-request DataLoader over a batch function that returns a Map of the records it found.
 * Keys without a record resolve to `null`; a failed batch rejects every key it asked for with the
 * same error. The result is always one value per key, in key order. With a cache, the batch asks
 * the department only for the keys the cache does not hold (still in one call), and keys served
 * from the cache resolve even when that call fails.
 */
export function createBatchLoader<K extends string, V>(
  fetchMany: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>,
  options: BatchLoaderOptions = {},
): DataLoader<K, V | null> {
  const { cache } = options;
  return new DataLoader<K, V | null>(
    async (keys) => {
      if (!cache) {
        const found = await fetchMany(keys);
        return keys.map((key) => found.get(key) ?? null);
      }
      const outcomes = await cache.readThrough<V>(keys, (missing) => fetchMany(missing as readonly K[]) as Promise<ReadonlyMap<string, V>>);
      return keys.map((key) => outcomes.get(key) ?? null);
    },
    { maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE },
  );
}
