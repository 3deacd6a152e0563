/**
 * Rate limits per consumer: a token bucket (a steady rate and a burst) per consumer. In memory
 * for one instance; in Redis for several, updated atomically by one Lua script on Redis' own
 * clock, so every instance draws from the same bucket. While Redis is unreachable the Redis
 * limiter falls back to an in-memory bucket per instance: consumers stay limited (per instance)
 * rather than being refused or let through without limit.
 */
import type { RedisConnection } from './redis-connection';

/** A consumer's limit: a steady rate and the burst it may send at once. */
export interface RateLimit {
  /** Requests per second, on average. */
  readonly requestsPerSecond: number;
  /** Requests that may arrive at once after a quiet period (the bucket size). */
  readonly burst: number;
}

/** The answer for one request. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/** Decides whether a consumer's request may go ahead now. */
export interface RateLimiter {
  /** Takes one token from the consumer's bucket; consumers without a limit are always allowed. */
  take(consumer: string): Promise<RateDecision>;
}

/** Finds a consumer's limit (undefined: no limit). */
export type RateLimitLookup = (consumer: string) => RateLimit | undefined;

/** Options of the in-memory limiter. */
export interface MemoryRateLimiterOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** Most buckets held (idle ones are dropped first). @default 100000 */
  maxBuckets?: number;
}

/** Defaults of the in-memory limiter. */
export const DEFAULT_MEMORY_RATE_LIMITER = Object.freeze({ maxBuckets: 100_000 });

const ALLOWED: RateDecision = Object.freeze({ allowed: true });

/** One bucket step: refill for the time passed, then take a token if there is one. */
function step(bucket: { tokens: number; at: number }, limit: RateLimit, nowMs: number): RateDecision {
  const elapsed = Math.max(0, nowMs - bucket.at);
  bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.requestsPerSecond) / 1000);
  bucket.at = nowMs;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return ALLOWED;
  }
  return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / limit.requestsPerSecond) };
}

/** The limiter of one instance. */
export function createMemoryRateLimiter(limits: RateLimitLookup, options: MemoryRateLimiterOptions = {}): RateLimiter {
  const now = options.now ?? Date.now;
  const maxBuckets = options.maxBuckets ?? DEFAULT_MEMORY_RATE_LIMITER.maxBuckets;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async take(consumer) {
      const limit = limits(consumer);
      if (!limit) return ALLOWED;
      const nowMs = now();
      let bucket = buckets.get(consumer);
      if (bucket) buckets.delete(consumer);
      else bucket = { tokens: limit.burst, at: nowMs };
      // Re-inserted on use, so the first entry is the longest idle.
      buckets.set(consumer, bucket);
      if (buckets.size > maxBuckets) buckets.delete(buckets.keys().next().value!);
      return step(bucket, limit, nowMs);
    },
  };
}

/**
 * The bucket in a hash (tokens, time of the last update), refilled and drawn in one atomic step
 * on Redis' clock (TIME), so instances with skewed clocks still share one bucket. Returns
 * {1, 0} when allowed, {0, ms to wait} when not.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1])
local at = tonumber(held[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, wait }
`;

type WithTake = { datarunTakeToken(key: string, rate: string, burst: string): Promise<[number, number]> };

/** The limiter shared by every instance on this Redis, with an in-memory fallback while Redis is unreachable. */
export function createRedisRateLimiter(connection: RedisConnection, limits: RateLimitLookup, options: MemoryRateLimiterOptions = {}): RateLimiter {
  const client = connection.client as typeof connection.client & WithTake;
  if (typeof client.datarunTakeToken !== 'function') client.defineCommand('datarunTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  const fallback = createMemoryRateLimiter(limits, options);
  const ns = `${connection.prefix}rate:`;
  return {
    async take(consumer) {
      const limit = limits(consumer);
      if (!limit) return ALLOWED;
      if (!connection.isReady()) return fallback.take(consumer);
      try {
        const [allowed, wait] = await client.datarunTakeToken(ns + consumer, String(limit.requestsPerSecond), String(limit.burst));
        return allowed === 1 ? ALLOWED : { allowed: false, retryAfterMs: Math.max(1, Number(wait)) };
      } catch {
        return fallback.take(consumer);
      }
    },
  };
}
