/**
 * The loaders' read-through over a RecordCache: the key scheme, the per-connector time to live,
 * the size limit, and single-flight (concurrent misses of one key, from any number of requests
 * of this instance, make one department call).
 */
import { createHash } from 'node:crypto';
import type { ConnectorCache, LoaderCache } from '../sdk';
import type { CacheEntry, RecordCache } from './record-cache';

/**
 * Version of the cached record format, part of every key: bump it when a connector changes the
 * shape of the records it caches, so that old entries are never read as new ones.
 */
export const RECORD_FORMAT_VERSION = 1;

/** Options of the loaders' cache. */
export interface LoaderCachesOptions {
  /** The store below (memory, Redis, or both). */
  cache: RecordCache;
  /** Versions the key space: a hash of the SDL and RECORD_FORMAT_VERSION (see `cacheVersionOf`). */
  version: string;
  /** Time to live of each connector's records, in seconds; a connector not listed (or 0) is not cached. */
  ttlSeconds: Readonly<Record<string, number>>;
  /** Records whose serialized form is larger are served but not cached. @default 262144 (256 KiB) */
  maxRecordBytes?: number;
  /** Sees every read-through and every department call it makes (the hub's metrics). @default none */
  observer?: LoaderCachesObserver;
}

/**
 * What the metrics see of the read-through. Hooks are called once per read-through and once per
 * department call, never per request: a cache-warm request pays two counter increments.
 */
export interface LoaderCachesObserver {
  /** After a read-through: keys answered without a call of this request (cache, or a call in flight) and keys it fetched. */
  lookups(connector: string, hits: number, misses: number): void;
  /** Makes a department call: `fetchMissing(keys)`, timed and counted by the observer. */
  call<V>(connector: string, signal: AbortSignal, keys: readonly string[], fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>): Promise<ReadonlyMap<string, V>>;
}

/** Defaults of the loaders' cache. */
export const DEFAULT_LOADER_CACHES = Object.freeze({ maxRecordBytes: 256 * 1024 });

/** One cached record's address: the connector, its loader and the loader's key (an identifier). */
export interface CachedRecordRef {
  readonly connector: string;
  readonly loader: string;
  readonly key: string;
}

/** The record cache as the gateway hands it to requests and to invalidation. */
export interface LoaderCaches {
  /** The versioned key prefix, `<version>:`. */
  readonly version: string;
  /** The cache a connector's loaders use during one request, or undefined when the connector is not cached. */
  forConnector(connectorId: string, signal: AbortSignal): ConnectorCache | undefined;
  /** The store key of a record. */
  keyOf(ref: CachedRecordRef): string;
  /** Removes records from the cache (every tier, every instance). */
  evict(refs: readonly CachedRecordRef[]): Promise<void>;
  /** Department calls made by read-throughs, and keys that joined a call already in flight. */
  readonly stats: { fetches: number; joined: number };
}

/** The version part of the cache keys: SHA-256 of the SDL files and the record format version, 16 hex digits. */
export function cacheVersionOf(typeDefs: readonly string[]): string {
  const hash = createHash('sha256');
  for (const sdl of typeDefs) hash.update(sdl).update('\u0000');
  hash.update(`record-format:${RECORD_FORMAT_VERSION}`);
  return hash.digest('hex').slice(0, 16);
}

/** How long the result of a finished call answers reads that started before it was stored (longer than a cache read may take). */
const RECENT_MS = 2000;

interface Flight {
  /** The serialized record (null: the department has none). Every waiter parses its own copy. */
  readonly result: Promise<string | null>;
  /** The signal of the request that made the call: if it aborts, the call fails for it, not for the waiters. */
  readonly signal: AbortSignal;
}

/** Creates the loaders' read-through over a cache. */
export function createLoaderCaches(options: LoaderCachesOptions): LoaderCaches {
  const { cache, version, observer } = options;
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_LOADER_CACHES.maxRecordBytes;
  const flights = new Map<string, Flight>();
  // Results of calls that finished a moment ago: a read that started before one was written and
  // ended after its flight was gone would otherwise miss both and call the department again.
  const recent = new Map<string, { value: string | null; at: number }>();
  const stats = { fetches: 0, joined: 0 };
  const keyOf = (ref: CachedRecordRef): string => `${version}:${ref.connector}:${ref.loader}:${ref.key}`;

  function loaderCache(connector: string, loader: string, ttlMs: number, signal: AbortSignal): LoaderCache {
    const prefix = `${version}:${connector}:${loader}:`;
    return {
      async readThrough<V>(keys: readonly string[], fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>) {
        const outcomes = new Map<string, V | null | Error>();
        const readAt = performance.now();
        const stored = await cache.getMany(keys.map((k) => prefix + k));
        const missing: string[] = [];
        const joined: { key: string; flight: Flight }[] = [];
        keys.forEach((key, i) => {
          const value = stored[i];
          if (value !== undefined) {
            try {
              outcomes.set(key, JSON.parse(value) as V);
              return;
            } catch {
              // A damaged entry is a miss.
            }
          }
          const flight = flights.get(prefix + key);
          const done = recent.get(prefix + key);
          if (flight && !flight.signal.aborted) joined.push({ key, flight });
          else if (done && done.at >= readAt) outcomes.set(key, done.value === null ? null : (JSON.parse(done.value) as V));
          else missing.push(key);
        });
        stats.joined += joined.length;

        const own = missing.length > 0 ? fetchAndStore(connector, prefix, missing, fetchMissing, ttlMs, signal) : undefined;
        const settled = await Promise.allSettled(joined.map((j) => j.flight.result));
        const retry: string[] = [];
        settled.forEach((s, i) => {
          const { key, flight } = joined[i]!;
          if (s.status === 'fulfilled') outcomes.set(key, s.value === null ? null : (JSON.parse(s.value) as V));
          // The call we joined died with its own request (the client went away): ask again ourselves.
          else if (flight.signal.aborted && !signal.aborted) retry.push(key);
          else outcomes.set(key, toError(s.reason));
        });
        if (own) for (const [key, outcome] of await own) outcomes.set(key, outcome);
        if (retry.length > 0) for (const [key, outcome] of await fetchAndStore(connector, prefix, retry, fetchMissing, ttlMs, signal)) outcomes.set(key, outcome);
        if (observer) {
          const fetched = missing.length + retry.length;
          observer.lookups(connector, keys.length - fetched, fetched);
        }
        return outcomes;
      },
    };
  }

  /** One department call for `keys`, announced as in flight for each of them, its records written back. */
  async function fetchAndStore<V>(
    connector: string,
    prefix: string,
    keys: readonly string[],
    fetchMissing: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>,
    ttlMs: number,
    signal: AbortSignal,
  ): Promise<Map<string, V | null | Error>> {
    stats.fetches++;
    const call = (async () => {
      const found = await (observer ? observer.call(connector, signal, keys, fetchMissing) : fetchMissing(keys));
      const serialized = new Map<string, string>();
      for (const [key, record] of found) serialized.set(key, JSON.stringify(record));
      return { found, serialized };
    })();
    const mine = new Map<string, Flight>();
    for (const key of keys) {
      const flight: Flight = { result: call.then(({ serialized }) => serialized.get(key) ?? null), signal };
      // Waiters attach their own handlers; this one only keeps an unjoined failure from being "unhandled".
      flight.result.catch(() => undefined);
      flights.set(prefix + key, flight);
      mine.set(prefix + key, flight);
    }
    const outcomes = new Map<string, V | null | Error>();
    try {
      const { found, serialized } = await call;
      const entries: CacheEntry[] = [];
      for (const key of keys) {
        const value = serialized.get(key);
        outcomes.set(key, found.get(key) ?? null);
        // Absence is not cached: a record registered a moment later must be found.
        if (value !== undefined && Buffer.byteLength(value, 'utf8') <= maxRecordBytes) entries.push({ key: prefix + key, value, ttlMs });
      }
      // Written before the reply, so that the next request on any instance finds them.
      await cache.setMany(entries);
      const at = performance.now();
      for (const key of keys) recent.set(prefix + key, { value: serialized.get(key) ?? null, at });
      setTimeout(() => {
        for (const key of keys) if (recent.get(prefix + key)?.at === at) recent.delete(prefix + key);
      }, RECENT_MS).unref();
    } catch (error) {
      for (const key of keys) outcomes.set(key, toError(error));
    } finally {
      for (const [key, flight] of mine) if (flights.get(key) === flight) flights.delete(key);
    }
    return outcomes;
  }

  return {
    version,
    stats,
    keyOf,
    forConnector(connectorId, signal) {
      const ttlSeconds = options.ttlSeconds[connectorId] ?? 0;
      if (!(ttlSeconds > 0)) return undefined;
      const ttlMs = ttlSeconds * 1000;
      const loaders = new Map<string, LoaderCache>();
      return {
        loader(name) {
          let lc = loaders.get(name);
          if (!lc) {
            lc = loaderCache(connectorId, name, ttlMs, signal);
            loaders.set(name, lc);
          }
          return lc;
        },
      };
    },
    async evict(refs) {
      if (refs.length === 0) return;
      const keys = refs.map(keyOf);
      for (const key of keys) recent.delete(key);
      await cache.delete(keys);
    },
  };
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
