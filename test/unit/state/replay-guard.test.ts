import { createMemoryReplayGuard, ReplayGuardFullError } from '../../../src/state';

const NOW = Date.parse('2025-06-01T09:00:00Z');

describe('the in-memory replay guard', () => {
  it('forgets ids once their token has expired, so memory stays bounded', async () => {
    let now = NOW;
    const guard = createMemoryReplayGuard({ now: () => now });
    for (let i = 0; i < 1000; i++) await guard.checkAndRemember(`id-${i}`, now + 60_000 + (i % 7) * 1000);
    expect(guard.size).toBe(1000);
    await expect(guard.checkAndRemember('id-3', now + 60_000)).resolves.toBe(false);
    now += 70_000;
    await expect(guard.checkAndRemember('fresh', now + 60_000)).resolves.toBe(true);
    expect(guard.size).toBe(1);
    await expect(guard.checkAndRemember('id-3', now + 60_000)).resolves.toBe(true);
  });

  it('refuses new ids rather than grow past its limit', async () => {
    const guard = createMemoryReplayGuard({ maxEntries: 2, now: () => NOW });
    await guard.checkAndRemember('a', NOW + 1000);
    await guard.checkAndRemember('b', NOW + 1000);
    await expect(guard.checkAndRemember('c', NOW + 1000)).rejects.toEqual(new ReplayGuardFullError());
    await expect(guard.checkAndRemember('c', NOW + 1000)).rejects.toMatchObject({ code: 'REPLAY_GUARD_FULL' });
  });
});
