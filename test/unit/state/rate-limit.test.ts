import { createMemoryRateLimiter } from '../../../src/state';

describe('the in-memory rate limiter', () => {
  it('lets a burst through, then refuses with the time until the next token', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter(() => ({ requestsPerSecond: 2, burst: 3 }), { now: () => now });
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.take('c'));
    expect(decisions).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }, { allowed: false, retryAfterMs: 500 }]);
    now += 500;
    expect(await limiter.take('c')).toEqual({ allowed: true });
    expect(await limiter.take('c')).toEqual({ allowed: false, retryAfterMs: 500 });
  });

  it('keeps one bucket per consumer', async () => {
    const limiter = createMemoryRateLimiter(() => ({ requestsPerSecond: 1, burst: 1 }), { now: () => 0 });
    expect(await limiter.take('a')).toEqual({ allowed: true });
    expect(await limiter.take('b')).toEqual({ allowed: true });
    expect(await limiter.take('a')).toMatchObject({ allowed: false });
  });

  it('never refuses a consumer without a limit', async () => {
    const limiter = createMemoryRateLimiter((consumer) => (consumer === 'limited' ? { requestsPerSecond: 1, burst: 1 } : undefined));
    for (let i = 0; i < 100; i++) expect(await limiter.take('free')).toEqual({ allowed: true });
  });

  it('refills no further than the burst after a quiet period', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter(() => ({ requestsPerSecond: 10, burst: 2 }), { now: () => now });
    now = 60_000;
    expect(await limiter.take('c')).toEqual({ allowed: true });
    expect(await limiter.take('c')).toEqual({ allowed: true });
    expect(await limiter.take('c')).toMatchObject({ allowed: false });
  });
});
