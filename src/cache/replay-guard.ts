/**
 * The replay guard in Redis: one key per one-time request id, written with `SET key 1 NX PXAT
 * <expiry>`, so whichever instance sees an id first wins and every other instance (and that one
 * again) refuses it until the token could no longer be accepted anyway. Fails closed: when Redis
 * cannot answer, the check rejects with ReplayGuardUnavailableError and the request is refused.
 */
import { createHash } from 'node:crypto';
import type { ReplayGuard } from '../seal';
import { ReplayGuardUnavailableError } from './errors';
import type { RedisConnection } from './redis-connection';

/** Options of the Redis replay guard. */
export interface RedisReplayGuardOptions {
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Creates the replay guard shared by every instance that uses this Redis. */
export function createRedisReplayGuard(connection: RedisConnection, options: RedisReplayGuardOptions = {}): ReplayGuard {
  const now = options.now ?? Date.now;
  const ns = `${connection.prefix}jti:`;
  return {
    async checkAndRemember(jti, expiresAt) {
      // An expired token is refused by the verifier anyway; nothing to remember.
      if (expiresAt < now()) return true;
      // Hashed: ids are chosen by consumers, and a key should not carry whatever they chose.
      const key = ns + createHash('sha256').update(jti, 'utf8').digest('base64url');
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
