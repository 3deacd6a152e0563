/**
 * The replay guard: one-time request ids (`jti`) remembered until their token expires. In memory
 * for one instance; in Redis for several: one key per id, written with `SET key 1 NX PXAT
 * <expiry>`, so whichever instance sees an id first wins and every other instance (and that one
 * again) refuses it until the token could no longer be accepted anyway. Both fail closed: when
 * the guard cannot answer (Redis down, memory full) the check rejects and the request is refused.
 * The guard is not a cache: nothing is ever evicted to make room.
 */
import { hash } from 'node:crypto';
import { ReplayGuardFullError, ReplayGuardUnavailableError } from './errors';
import type { RedisConnection } from './redis-connection';

/** Remembers one-time request ids until their token expires (the request verifier of src/seal asks it). */
export interface ReplayGuard {
  /** Records `jti` until `expiresAt` (epoch ms); true when it was not seen before, false for a replay. */
  checkAndRemember(jti: string, expiresAt: number): Promise<boolean>;
  /** Since when (epoch ms) the guard holds every id it was given; tokens issued earlier are refused by the verifier. */
  knownSince(): Promise<number>;
}

/** Options of the in-memory replay guard. */
export interface MemoryReplayGuardOptions {
  /** Most live ids held at once; beyond it requests are refused (ReplayGuardFullError) rather than let memory grow. @default 1_000_000 */
  readonly maxEntries?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  /** Since when the guard holds every id (epoch ms). @default the start of this process (performance.timeOrigin): a restarted hub forgot every id */
  readonly knownSince?: number;
}

/** Defaults of the in-memory replay guard. */
export const DEFAULT_MEMORY_REPLAY_GUARD = { maxEntries: 1_000_000 } as const;

/**
 * A replay guard for one hub instance. Ids are kept in buckets by expiry second, so expired
 * ids are dropped in whole buckets; memory is bounded by request rate × token lifetime and by
 * `maxEntries`.
 */
export function createMemoryReplayGuard(options: MemoryReplayGuardOptions = {}): ReplayGuard & { readonly size: number } {
  const maxEntries = options.maxEntries ?? DEFAULT_MEMORY_REPLAY_GUARD.maxEntries;
  const now = options.now ?? Date.now;
  // The process start; with a test clock behind the real one, that clock's time at creation.
  const knownSince = options.knownSince ?? Math.floor(Math.min(performance.timeOrigin, now()));
  const seen = new Map<string, number>();
  const buckets = new Map<number, string[]>();
  let sweptSecond = 0;

  function sweep(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === sweptSecond) return;
    sweptSecond = second;
    for (const [bucket, ids] of buckets) {
      if (bucket >= second) continue;
      for (const id of ids) if ((seen.get(id) ?? Infinity) < nowMs) seen.delete(id);
      buckets.delete(bucket);
    }
  }

  return {
    get size() {
      return seen.size;
    },
    knownSince: () => Promise.resolve(knownSince),
    checkAndRemember(jti, expiresAt) {
      const nowMs = now();
      sweep(nowMs);
      const known = seen.get(jti);
      if (known !== undefined && known >= nowMs) return Promise.resolve(false);
      if (expiresAt < nowMs) return Promise.resolve(true); // already expired: the verifier refuses it anyway
      if (seen.size >= maxEntries) return Promise.reject(new ReplayGuardFullError());
      seen.set(jti, expiresAt);
      const bucket = Math.floor(expiresAt / 1000);
      const ids = buckets.get(bucket);
      if (ids) ids.push(jti);
      else buckets.set(bucket, [jti]);
      return Promise.resolve(true);
    },
  };
}


/** Options of the Redis replay guard. */
export interface RedisReplayGuardOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** The marker key (below the hub's prefix) that holds since when the shared guard holds every id. */
export const REPLAY_EPOCH_KEY = 'jti-epoch';

/**
 * Creates the replay guard shared by every instance that uses this Redis. Beside the ids it keeps
 * a marker, written when the guard first finds it missing: on a new Redis, and after Redis lost
 * its data (FLUSHALL, a restart without persistence, a failover to an empty replica). Its value,
 * the time the loss was noticed, is the guard's `knownSince`.
 */
export function createRedisReplayGuard(connection: RedisConnection, options: RedisReplayGuardOptions = {}): ReplayGuard {
  const now = options.now ?? Date.now;
  const ns = `${connection.prefix}jti:`;
  const epochKey = connection.prefix + REPLAY_EPOCH_KEY;
  return {
    async knownSince() {
      try {
        const held = await connection.client.get(epochKey);
        if (held !== null && Number.isFinite(Number(held))) return Number(held);
        // Missing: this store never saw an id, or lost them. Whoever notices first sets the time.
        const stamp = String(now());
        if ((await connection.client.set(epochKey, stamp, 'NX')) === 'OK') return Number(stamp);
        const other = await connection.client.get(epochKey);
        return other !== null && Number.isFinite(Number(other)) ? Number(other) : Number(stamp);
      } catch (error) {
        throw new ReplayGuardUnavailableError(error);
      }
    },
    async checkAndRemember(jti, expiresAt) {
      // An expired token is refused by the verifier anyway; nothing to remember.
      if (expiresAt < now()) return true;
      // Hashed: ids are chosen by consumers, and a key should not carry whatever they chose.
      const key = ns + hash('sha256', jti, 'base64url');
      let reply: unknown;
      try {
        reply = await connection.client.set(key, '1', 'PXAT', Math.ceil(expiresAt), 'NX');
      } catch (error) {
        throw new ReplayGuardUnavailableError(error);
      }
      return reply === 'OK';
    },
  };
}
