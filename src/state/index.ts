/**
 * The state hub instances share: the record cache, the replay guard, rate limits, leases,
 * shared values, versioned documents, change-feed invalidation and the Redis stream primitives. In memory for one
 * instance; in Redis (the only importer of ioredis) for several. It knows nothing of the audit
 * log, the policy or the seals.
 */
export { createSharedState } from './shared-state';
export type { SharedState, SharedStateMode, SharedStateHealth } from './shared-state';
export { redisModeOf, parseHostPort } from './redis-connection';
export type { RedisConnectionEvent } from './redis-connection';
export { createMemoryRecordCache } from './record-cache';
export type { RecordCache } from './record-cache';
export { createLoaderCaches, cacheVersionOf } from './read-through';
export type { LoaderCaches, LoaderCachesObserver } from './read-through';
export { createMemoryRateLimiter } from './rate-limit';
export type { RateLimiter } from './rate-limit';
export { createMemoryReplayGuard, DEFAULT_MEMORY_REPLAY_GUARD } from './replay-guard';
export type { ReplayGuard, MemoryReplayGuardOptions } from './replay-guard';
export type { Lease, SharedValue } from './lease';
export { createMemoryDocuments } from './documents';
export type { SharedDocuments, SharedDocument, IndexChange } from './documents';
export { createMemoryBits } from './bits';
export type { SharedBits } from './bits';
export { seqOfEntryId } from './streams';
export type { RedisStreams, StreamEntry } from './streams';
export type { RedisDeliveryLanes, LaneEntry, DeadLaneItem } from './delivery-lanes';
export { startInvalidationPoller } from './invalidation';
export type { InvalidationPoller, InvalidationEvent } from './invalidation';
export { StateError, StateErrorCode, RedisUnavailableError, ReplayGuardUnavailableError, ReplayGuardFullError } from './errors';
