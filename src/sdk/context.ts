import type { Connector } from './connector';

/** What every resolver receives: the request's identity and its per-request loaders. */
export interface HubContext {
  /** The id of this request, also sent back in the `x-request-id` header. */
  readonly requestId: string;
  /** Aborted when the client goes away or the hub shuts down. */
  readonly signal: AbortSignal;
  /** The connector's DataLoaders for this request, created on first use and never shared across requests. */
  loadersOf<L>(connector: Connector<L>): L;
}

/**
 * One batch loader's view of the hub's shared record cache. `readThrough` reads every key from
 * the cache, asks `fetchMissing` (one department call) for the misses only, stores what it
 * found, and returns one outcome per key: the record, `null` when the department has none, or
 * the Error of a failed call. Concurrent misses of one key, across requests, share one call.
 */
export interface LoaderCache {
  readThrough<V>(keys: readonly string[], fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>): Promise<ReadonlyMap<string, V | null | Error>>;
}

/** The shared record cache as one connector sees it during one request: a LoaderCache per named loader. */
export interface ConnectorCache {
  /** The cache of the loader `name` (one key space per connector and loader). */
  loader(name: string): LoaderCache;
}

/** What a connector may know about the request its loaders serve. */
export interface RequestScope {
  readonly requestId: string;
  readonly signal: AbortSignal;
  /** The hub's record cache for this connector; absent when the hub caches nothing for it. */
  readonly cache?: ConnectorCache;
}

/** What `createHubContext` needs: the request, and where each connector's cache comes from. */
export interface HubContextOptions {
  readonly requestId: string;
  readonly signal: AbortSignal;
  /** The record cache of a connector for this request, or undefined for none. @default no cache */
  readonly cacheOf?: (connectorId: string, signal: AbortSignal) => ConnectorCache | undefined;
}

/** A HubContext whose loaders are created lazily, one set per connector per request. */
export function createHubContext(options: HubContextOptions): HubContext {
  const loaders = new Map<string, unknown>();
  return {
    requestId: options.requestId,
    signal: options.signal,
    loadersOf<L>(connector: Connector<L>): L {
      let set = loaders.get(connector.id) as L | undefined;
      if (set === undefined) {
        const cache = options.cacheOf?.(connector.id, options.signal);
        set = connector.createLoaders({ requestId: options.requestId, signal: options.signal, ...(cache ? { cache } : {}) });
        loaders.set(connector.id, set);
      }
      return set;
    },
  };
}
