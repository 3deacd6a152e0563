/**
 * Delivery of department events to subscribers: Standard Webhooks signing (v1a with the hub's
 * Ed25519 key, v1 with a subscriber's secret) and its verification, the operator's allow-list of
 * targets with the address checks that keep deliveries off private networks, a durable delivery
 * queue (a local file, or Redis streams through src/state) that keeps order per subject per
 * subscriber and holds a lane behind a dead event, and the dispatcher that runs deliveries with
 * retries. It renders nothing: the gateway's `deliver` callback does (docs/webhooks.md).
 */
export { createWebhookSigner, webhookPublicJwk, verifyWebhook } from './signing';
export type { WebhookSigner, WebhookSignerOptions, WebhookHeaders, WebhookPublicJwk, VerifyWebhookOptions, VerifiedWebhook } from './signing';
export { createAllowList, forbiddenRange, checkAddresses } from './allow-list';
export type { AllowList, AllowListEntry } from './allow-list';
export { sendWebhook, parseRetryAfter } from './send';
export type { SendWebhookOptions, WebhookMessage, WebhookSendResult, HostResolver, ResolvedAddress } from './send';
export { createWebhookConnections } from './connections';
export type { WebhookConnections, WebhookConnectionsOptions } from './connections';
export { openFileStore } from './file-store';
export type { FileStoreOptions } from './file-store';
export { createRedisStore } from './redis-store';
export type { RedisStoreOptions } from './redis-store';
export { createDispatcher, backoffDelay } from './dispatcher';
export type { Dispatcher, DispatcherOptions, DispatcherEvent, DeliverFunction, BackoffOptions } from './dispatcher';
export { checkEnqueue } from './types';
export type { PushEvent, DeliveryResult, DeliveryStore, Claim, DeadEntry } from './types';
export { PushError, PushErrorCode, WebhookVerifyError, TargetRefusedError, PushInputError } from './errors';
export type { WebhookVerifyReason } from './errors';
