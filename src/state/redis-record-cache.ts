/**
 * The record cache in Redis, shared by every hub instance, and the tiered cache that keeps a
 * small, short-lived in-process copy in front of it. Evictions travel on a pub/sub channel so
 * that every instance drops its in-process copy too.
 */
import { Cluster } from 'ioredis';
import { emptyStats, type CacheEntry, type RecordCache } from './record-cache';
import type { RedisConnection } from './redis-connection';

/** Name of the invalidation channel, after the key prefix. */
export const INVALIDATION_CHANNEL = 'invalidate';

/**
 * The cache in Redis. Keys get the connection's prefix and a `rc:` namespace. Standalone and
 * Sentinel read with one MGET; a cluster spreads keys over slots, so each key is read with its
 * own GET and ioredis' auto-pipelining sends them as one round trip per node. Failures count as
 * misses (the data is fetched from the department instead).
 */
export function createRedisRecordCache(connection: RedisConnection): RecordCache {
  const { client } = connection;
  const ns = `${connection.prefix}rc:`;
  const clustered = client instanceof Cluster;
  const stats = emptyStats();

  async function read(keys: readonly string[]): Promise<(string | null)[]> {
    if (clustered) return Promise.all(keys.map((k) => client.get(ns + k)));
    return client.mget(keys.map((k) => ns + k));
  }

  return {
    kind: 'redis',
    stats,
    async getMany(keys) {
      if (keys.length === 0) return [];
      // Without a connection every command would fail at once anyway; skip the attempt.
      if (!connection.isReady()) {
        stats.errors++;
        stats.misses += keys.length;
        return keys.map(() => undefined);
      }
      try {
        const values = await read(keys);
        return values.map((v) => {
          if (v === null || v === undefined) {
            stats.misses++;
            return undefined;
          }
          stats.hits++;
          return v;
        });
      } catch {
        stats.errors++;
        stats.misses += keys.length;
        return keys.map(() => undefined);
      }
    },
    async setMany(entries) {
      const list = entries.filter((e) => e.ttlMs > 0);
      if (list.length === 0 || !connection.isReady()) return;
      try {
        await Promise.all(list.map((e) => client.set(ns + e.key, e.value, 'PX', Math.ceil(e.ttlMs))));
        stats.writes += list.length;
      } catch {
        stats.errors++;
      }
    },
    async setIfAbsent(entry) {
      if (!connection.isReady()) return entry.value;
      try {
        // SET … NX GET (Redis 7): one round trip that either stores ours or returns the one already there.
        const held = (await client.call('SET', ns + entry.key, entry.value, 'PX', String(Math.ceil(entry.ttlMs)), 'NX', 'GET')) as string | null;
        if (held === null) stats.writes++;
        return held ?? entry.value;
      } catch {
        stats.errors++;
        return entry.value;
      }
    },
    async delete(keys) {
      if (keys.length === 0) return;
      // Deleting is part of invalidation: unlike reads, a failure must reach the caller, which retries.
      if (clustered) await Promise.all(keys.map((k) => client.del(ns + k)));
      else await client.del(...keys.map((k) => ns + k));
      stats.evictions += keys.length;
    },
    async close() {
      // The connection belongs to the shared state, which closes it.
    },
  };
}

/** Options of the tiered cache. */
export interface TieredRecordCacheOptions {
  /** The in-process tier (an LRU). */
  local: RecordCache;
  /** The shared tier (Redis). */
  remote: RecordCache;
  connection: RedisConnection;
  /** Longest time a value stays in the in-process tier: the staleness bound when an invalidation message is lost. @default 1000 */
  localTtlMs?: number;
}

/** Defaults of the tiered cache. */
export const DEFAULT_TIERED_RECORD_CACHE = Object.freeze({ localTtlMs: 1000 });

/**
 * Memory in front of Redis: reads try the instance's own LRU, then Redis for the rest (filling
 * the LRU); writes go to both; deletes go to both and are published so that every instance drops
 * its in-process copy.
 */
export function createTieredRecordCache(options: TieredRecordCacheOptions): RecordCache {
  const { local, remote, connection } = options;
  const localTtlMs = options.localTtlMs ?? DEFAULT_TIERED_RECORD_CACHE.localTtlMs;
  const channel = `${connection.prefix}${INVALIDATION_CHANNEL}`;
  const stats = emptyStats();
  const subscriber = connection.subscriber();
  const onMessage = (from: string, message: string): void => {
    if (from !== channel) return;
    try {
      const keys = JSON.parse(message) as unknown;
      if (Array.isArray(keys)) void local.delete(keys.filter((k): k is string => typeof k === 'string'));
    } catch {
      // Not ours: ignore.
    }
  };
  subscriber.on('message', onMessage);
  void subscriber.subscribe(channel).catch(() => undefined);
  const short = (e: CacheEntry): CacheEntry => ({ key: e.key, value: e.value, ttlMs: Math.min(e.ttlMs, localTtlMs) });

  return {
    kind: 'tiered',
    stats,
    async getMany(keys) {
      const values = await local.getMany(keys);
      const missing: number[] = [];
      values.forEach((v, i) => v === undefined && missing.push(i));
      if (missing.length > 0) {
        const fetched = await remote.getMany(missing.map((i) => keys[i]!));
        const fill: CacheEntry[] = [];
        fetched.forEach((v, j) => {
          const i = missing[j]!;
          values[i] = v;
          if (v !== undefined) fill.push({ key: keys[i]!, value: v, ttlMs: localTtlMs });
        });
        await local.setMany(fill);
      }
      for (const v of values) {
        if (v === undefined) stats.misses++;
        else stats.hits++;
      }
      stats.errors = remote.stats.errors;
      return values;
    },
    async setMany(entries) {
      await local.setMany(entries.map(short));
      await remote.setMany(entries);
      stats.writes += entries.length;
    },
    async setIfAbsent(entry) {
      const held = await remote.setIfAbsent(entry);
      await local.setMany([short({ ...entry, value: held })]);
      return held;
    },
    async delete(keys) {
      await local.delete(keys);
      await remote.delete(keys);
      await connection.client.publish(channel, JSON.stringify(keys));
      stats.evictions += keys.length;
    },
    async close() {
      subscriber.off('message', onMessage);
      // Queued without a connection, it would hold the process until its timeout; the connection closes anyway.
      if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(() => undefined);
      await local.close();
    },
  };
}
