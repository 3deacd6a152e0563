/**
 * The state hub instances share: the record cache, the replay guard, rate limits, leases, the
 * audit streams and their archiver, and change-feed invalidation. In memory for one instance;
 * in Redis (the only importer of ioredis) for several.
 */
export { createSharedState } from './shared-state';
export type { SharedState, SharedStateMode, SharedStateHealth } from './shared-state';
export { redisModeOf, parseHostPort } from './redis-connection';
export type { RedisConnectionEvent } from './redis-connection';
export { createMemoryRecordCache } from './record-cache';
export type { RecordCache } from './record-cache';
export { createLoaderCaches, cacheVersionOf } from './read-through';
export type { LoaderCaches } from './read-through';
export { createMemoryRateLimiter } from './rate-limit';
export type { RateLimiter } from './rate-limit';
export { startInvalidationPoller } from './invalidation';
export type { InvalidationPoller, InvalidationEvent } from './invalidation';
export type { AuditArchiver, AuditArchiverEvent } from './audit-archiver';
export { CacheErrorCode, ReplayGuardUnavailableError, AuditInstanceInUseError } from './errors';
