/**
 * Leases: "one of the instances does this" (poll the change feed, archive the audit streams,
 * append to one instance's stream). A lease in Redis is a key holding its holder's token with a
 * time to live, taken and renewed by one atomic script; a holder that dies loses it when the time
 * runs out. In memory (one instance) a lease is always held.
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from './redis-connection';

/** A lease on a named task. */
export interface Lease {
  /** Takes the lease if free, renews it if ours; true while this process holds it. Never throws (Redis down: false). */
  tryHold(): Promise<boolean>;
  /** Whether the last `tryHold` succeeded and its time has not run out since. */
  readonly held: boolean;
  /** Gives the lease up (if ours) so another instance can take it at once. */
  release(): Promise<void>;
}

/** A value shared by the instances (the change feed's cursor). */
export interface SharedValue {
  get(): Promise<string | undefined>;
  set(value: string): Promise<void>;
}

/** A token that names this process as a lease holder. */
export function newHolderToken(): string {
  return randomBytes(12).toString('base64url');
}

/** A lease that is always held: one instance has nobody to share its tasks with. */
export function createMemoryLease(): Lease {
  return { held: true, tryHold: async () => true, release: async () => undefined };
}

/** A value in this process only. */
export function createMemoryValue(): SharedValue {
  let value: string | undefined;
  return {
    get: async () => value,
    set: async (v) => {
      value = v;
    },
  };
}

const HOLD_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type WithLease = {
  datarunHoldLease(key: string, token: string, ttlMs: string): Promise<number>;
  datarunReleaseLease(key: string, token: string): Promise<number>;
};

/** Options of a Redis lease. */
export interface RedisLeaseOptions {
  /** The task's name (its key, after the prefix and `lease:`). */
  name: string;
  /** This holder's token (one per process, so that a process re-taking its own lease after a blip succeeds). */
  token: string;
  /** How long the lease lasts without renewal. @default 5000 */
  ttlMs?: number;
}

/** Defaults of a Redis lease. */
export const DEFAULT_REDIS_LEASE = Object.freeze({ ttlMs: 5000 });

/** A lease in Redis. */
export function createRedisLease(connection: RedisConnection, options: RedisLeaseOptions): Lease {
  const client = connection.client as typeof connection.client & WithLease;
  if (typeof client.datarunHoldLease !== 'function') {
    client.defineCommand('datarunHoldLease', { numberOfKeys: 1, lua: HOLD_SCRIPT });
    client.defineCommand('datarunReleaseLease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  const key = `${connection.prefix}lease:${options.name}`;
  const ttlMs = options.ttlMs ?? DEFAULT_REDIS_LEASE.ttlMs;
  let heldUntil = 0;
  return {
    get held() {
      return Date.now() < heldUntil;
    },
    async tryHold() {
      const started = Date.now();
      try {
        const ok = (await client.datarunHoldLease(key, options.token, String(ttlMs))) === 1;
        // Counted from before the call: the lease may have been granted at any moment during it.
        heldUntil = ok ? started + ttlMs : 0;
        return ok;
      } catch {
        heldUntil = 0;
        return false;
      }
    },
    async release() {
      heldUntil = 0;
      try {
        await client.datarunReleaseLease(key, options.token);
      } catch {
        // It runs out by itself.
      }
    },
  };
}

/** A value in Redis, under the prefix and `value:`. */
export function createRedisValue(connection: RedisConnection, name: string): SharedValue {
  const key = `${connection.prefix}value:${name}`;
  return {
    async get() {
      return (await connection.client.get(key)) ?? undefined;
    },
    async set(value) {
      await connection.client.set(key, value);
    },
  };
}
