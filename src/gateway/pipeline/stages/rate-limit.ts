/**
 * Per-consumer rate limit, shared by every instance: after authentication, so nobody can spend
 * another consumer's budget, and before the replay guard and parsing, so a consumer over its rate
 * costs the hub one bucket lookup.
 */
import { HubError, HubErrorCode } from '../../../sdk';
import type { RateLimiter } from '../../../state';
import type { Flow } from '../types';

export function rateLimitStage(limiter: RateLimiter): (flow: Flow) => Promise<void> {
  return async (flow) => {
    if (!flow.caller) return;
    const decision = await limiter.take(flow.caller.consumer);
    if (decision.allowed) return;
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new HubError(HubErrorCode.RATE_LIMITED, `Too many requests from this consumer: retry after ${seconds} s.`, { retryAfterMs: decision.retryAfterMs });
  };
}
