import { createMemoryRecordCache } from '../../../src/state';

describe('the in-memory record cache', () => {
  it('answers a miss for a key it never held and a hit for one it holds', async () => {
    const cache = createMemoryRecordCache();
    await cache.setMany([{ key: 'a', value: '{"n":1}', ttlMs: 1000 }]);
    expect(await cache.getMany(['a', 'b'])).toEqual(['{"n":1}', undefined]);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, writes: 1 });
  });

  it('forgets an entry once its time to live has passed', async () => {
    let now = 1_000;
    const cache = createMemoryRecordCache({ now: () => now });
    await cache.setMany([{ key: 'a', value: 'x', ttlMs: 500 }]);
    now += 499;
    expect(await cache.getMany(['a'])).toEqual(['x']);
    now += 1;
    expect(await cache.getMany(['a'])).toEqual([undefined]);
    expect(cache.size).toBe(0);
  });

  it('drops the least recently used entry beyond its entry limit', async () => {
    const cache = createMemoryRecordCache({ maxEntries: 2 });
    await cache.setMany([
      { key: 'a', value: '1', ttlMs: 1000 },
      { key: 'b', value: '2', ttlMs: 1000 },
    ]);
    await cache.getMany(['a']); // a is now more recent than b
    await cache.setMany([{ key: 'c', value: '3', ttlMs: 1000 }]);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual(['1', undefined, '3']);
    expect(cache.stats.evictions).toBe(1);
  });

  it('keeps the bytes it holds under its byte limit, and never holds a value larger than the limit', async () => {
    const cache = createMemoryRecordCache({ maxBytes: 10 });
    await cache.setMany([
      { key: 'a', value: '123456', ttlMs: 1000 },
      { key: 'b', value: '123456', ttlMs: 1000 },
    ]);
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, '123456']);
    await cache.setMany([{ key: 'huge', value: '12345678901', ttlMs: 1000 }]);
    expect(await cache.getMany(['huge'])).toEqual([undefined]);
    expect(cache.bytes).toBeLessThanOrEqual(10);
  });

  it('keeps the first value stored with setIfAbsent', async () => {
    const cache = createMemoryRecordCache();
    expect(await cache.setIfAbsent({ key: 's', value: 'first', ttlMs: 1000 })).toBe('first');
    expect(await cache.setIfAbsent({ key: 's', value: 'second', ttlMs: 1000 })).toBe('first');
  });

  it('removes deleted keys', async () => {
    const cache = createMemoryRecordCache();
    await cache.setMany([{ key: 'a', value: '1', ttlMs: 1000 }]);
    await cache.delete(['a']);
    expect(await cache.getMany(['a'])).toEqual([undefined]);
  });
});
