/**
 * The state hub instances share, in one of two modes: in memory (one instance: nothing to
 * share, the embedded defaults) or in Redis (standalone, Sentinel or Cluster: every instance
 * sees the same record cache, replay guard, rate limits, leases and streams). The gateway asks
 * this module for each piece and never looks at the mode itself.
 */
import { createMemoryBits, createRedisBits, type SharedBits } from './bits';
import { createMemoryDocuments, createRedisDocuments, type SharedDocuments } from './documents';
import { createMemoryLease, createMemoryValue, createRedisLease, createRedisValue, newHolderToken, type Lease, type SharedValue } from './lease';
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter, type RateLimitLookup } from './rate-limit';
import { createMemoryRecordCache, type RecordCache } from './record-cache';
import { createRedisConnection, type RedisConnection, type RedisConnectionEvent, type RedisMode, type RedisSettings } from './redis-connection';
import { createRedisRecordCache, createTieredRecordCache } from './redis-record-cache';
import { createMemoryReplayGuard, createRedisReplayGuard, type ReplayGuard } from './replay-guard';
import { createRedisDeliveryLanes, type RedisDeliveryLanes } from './delivery-lanes';
import { createRedisStreams, type RedisStreams } from './streams';

/** `memory` (one instance) or how Redis is reached. */
export type SharedStateMode = 'memory' | RedisMode;

/** Options of the shared state. */
export interface SharedStateOptions {
  /** Where Redis is; absent: everything in this process. */
  redis?: RedisSettings;
  /** The record cache's in-process tier (the whole cache in memory mode). */
  cache?: { maxEntries?: number; maxBytes?: number; localTtlMs?: number };
  /** Finds a consumer's rate limit. */
  rateLimits: RateLimitLookup;
  /** Hears connection trouble (never keys, values or passwords). */
  onEvent?: (event: RedisConnectionEvent) => void;
}

/** How the shared state is doing, for `/readyz`. */
export interface SharedStateHealth {
  readonly mode: SharedStateMode;
  readonly ok: boolean;
  readonly reason?: string;
}

/** The state shared by the hub's instances. */
export interface SharedState {
  readonly mode: SharedStateMode;
  /** For the startup message and logs, without credentials. */
  readonly description: string;
  /** The record cache (memory LRU, or memory in front of Redis). */
  readonly records: RecordCache;
  readonly replayGuard: ReplayGuard;
  readonly rateLimiter: RateLimiter;
  /** A lease on a named task ("one instance does this"). */
  lease(name: string, ttlMs?: number): Lease;
  /** A value the instances share. */
  value(name: string): SharedValue;
  /** A namespace of versioned documents, created and replaced atomically (the same object for the same name). */
  documents(namespace: string): SharedDocuments;
  /** A namespace of bitmaps (claim a bit atomically, count, find a clear one, small fields; the same object for the same name). */
  bits(namespace: string): SharedBits;
  /** Stream and consumer-group primitives on Redis (the audit log's Redis sink uses them); undefined in memory mode. */
  readonly streams: RedisStreams | undefined;
  /** Ordered delivery lanes `name` on Redis, claimed as `consumer` (unique per process), for webhook delivery (src/push); undefined in memory mode. */
  deliveryLanes(name: string, consumer: string): RedisDeliveryLanes | undefined;
  /** Resolves true once Redis answers (at once in memory mode), false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  health(): SharedStateHealth;
  close(): Promise<void>;
}

/** The state of one instance: nothing leaves the process. */
function createMemorySharedState(options: SharedStateOptions): SharedState {
  const records = createMemoryRecordCache({
    ...(options.cache?.maxEntries ? { maxEntries: options.cache.maxEntries } : {}),
    ...(options.cache?.maxBytes ? { maxBytes: options.cache.maxBytes } : {}),
  });
  const values = new Map<string, SharedValue>();
  const documents = new Map<string, SharedDocuments>();
  const bitmaps = new Map<string, SharedBits>();
  return {
    mode: 'memory',
    description: 'in memory (one instance: record cache, replay guard and rate limits in this process)',
    records,
    replayGuard: createMemoryReplayGuard(),
    rateLimiter: createMemoryRateLimiter(options.rateLimits),
    lease: () => createMemoryLease(),
    value(name) {
      let v = values.get(name);
      if (!v) values.set(name, (v = createMemoryValue()));
      return v;
    },
    documents(namespace) {
      let d = documents.get(namespace);
      if (!d) documents.set(namespace, (d = createMemoryDocuments(namespace)));
      return d;
    },
    bits(namespace) {
      let b = bitmaps.get(namespace);
      if (!b) bitmaps.set(namespace, (b = createMemoryBits(namespace)));
      return b;
    },
    streams: undefined,
    deliveryLanes: () => undefined,
    waitUntilReady: async () => true,
    health: () => ({ mode: 'memory', ok: true }),
    close: () => records.close(),
  };
}

function createRedisSharedState(settings: NonNullable<SharedStateOptions['redis']>, options: SharedStateOptions): SharedState {
  const connection: RedisConnection = createRedisConnection(settings, options.onEvent);
  const token = newHolderToken();
  const local = createMemoryRecordCache({
    ...(options.cache?.maxEntries ? { maxEntries: options.cache.maxEntries } : {}),
    ...(options.cache?.maxBytes ? { maxBytes: options.cache.maxBytes } : {}),
  });
  const records = createTieredRecordCache({
    local,
    remote: createRedisRecordCache(connection),
    connection,
    ...(options.cache?.localTtlMs !== undefined ? { localTtlMs: options.cache.localTtlMs } : {}),
  });
  return {
    mode: connection.mode,
    description: connection.description,
    records,
    replayGuard: createRedisReplayGuard(connection),
    rateLimiter: createRedisRateLimiter(connection, options.rateLimits),
    lease: (name, ttlMs) => createRedisLease(connection, { name, token, ...(ttlMs ? { ttlMs } : {}) }),
    value: (name) => createRedisValue(connection, name),
    documents: (namespace) => createRedisDocuments(connection, namespace),
    bits: (namespace) => createRedisBits(connection, namespace),
    streams: createRedisStreams(connection),
    deliveryLanes: (name, consumer) => createRedisDeliveryLanes(connection, name, consumer),
    waitUntilReady: (timeoutMs) => connection.waitUntilReady(timeoutMs),
    health: () => (connection.isReady() ? { mode: connection.mode, ok: true } : { mode: connection.mode, ok: false, reason: 'redis unreachable' }),
    async close() {
      await records.close();
      await connection.close();
    },
  };
}

/** Creates the shared state: in Redis when settings are given, else in this process. */
export function createSharedState(options: SharedStateOptions): SharedState {
  return options.redis ? createRedisSharedState(options.redis, options) : createMemorySharedState(options);
}
