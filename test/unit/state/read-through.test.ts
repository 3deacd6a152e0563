import { cacheVersionOf, createLoaderCaches, createMemoryRecordCache, type LoaderCaches, type RecordCache } from '../../../src/state';
import { createBatchLoader, ConnectorUnavailableError, type LoaderCache } from '../../../src/sdk';

type Rec = { id: string; n: number };

/** A department fake: counts calls and the keys asked, answers the keys it knows after `delayMs`. */
function department(known: readonly string[], delayMs = 0) {
  const asked: string[][] = [];
  return {
    asked,
    fetch: async (keys: readonly string[]): Promise<ReadonlyMap<string, Rec>> => {
      asked.push([...keys]);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return new Map(keys.filter((k) => known.includes(k)).map((k) => [k, { id: k, n: k.length }]));
    },
  };
}

const hubs = new WeakMap<RecordCache, Map<string, LoaderCaches>>();

/** The loader cache one request gets, from the hub-wide read-through over `cache` (one per cache and settings, as a gateway holds one). */
function loaderCache(cache: RecordCache = createMemoryRecordCache(), options: { maxRecordBytes?: number; signal?: AbortSignal; version?: string } = {}): LoaderCache {
  const settings = `${options.version ?? 'v1'}/${options.maxRecordBytes ?? ''}`;
  let byCache = hubs.get(cache);
  if (!byCache) hubs.set(cache, (byCache = new Map()));
  let caches = byCache.get(settings);
  if (!caches) {
    caches = createLoaderCaches({ cache, version: options.version ?? 'v1', ttlSeconds: { tax: 60 }, ...(options.maxRecordBytes ? { maxRecordBytes: options.maxRecordBytes } : {}) });
    byCache.set(settings, caches);
  }
  return caches.forConnector('tax', options.signal ?? new AbortController().signal)!.loader('taxpayerById');
}

describe('the loaders read through the record cache', () => {
  it('asks the department only for the keys the cache does not hold, in one call', async () => {
    const cache = createMemoryRecordCache();
    const dept = department(['a', 'bb', 'ccc']);
    await loaderCache(cache).readThrough(['a'], dept.fetch);
    const got = await loaderCache(cache).readThrough(['a', 'bb', 'ccc', 'none'], dept.fetch);
    expect(dept.asked).toEqual([['a'], ['bb', 'ccc', 'none']]);
    expect(got).toEqual(new Map<string, Rec | null>([['a', { id: 'a', n: 1 }], ['bb', { id: 'bb', n: 2 }], ['ccc', { id: 'ccc', n: 3 }], ['none', null]]));
  });

  it('makes one department call for 100 concurrent identical misses', async () => {
    const cache = createMemoryRecordCache();
    const dept = department(['k'], 50);
    const results = await Promise.all(Array.from({ length: 100 }, () => loaderCache(cache).readThrough(['k'], dept.fetch)));
    expect(dept.asked).toEqual([['k']]);
    for (const r of results) expect(r.get('k')).toEqual({ id: 'k', n: 1 });
    // Every waiter gets its own copy: no request can change another's record.
    expect(new Set(results.map((r) => r.get('k'))).size).toBe(100);
  });

  it('does not cache absence: a record registered a moment later is found', async () => {
    const cache = createMemoryRecordCache();
    const known: string[] = [];
    const dept = department(known);
    expect((await loaderCache(cache).readThrough(['new'], dept.fetch)).get('new')).toBeNull();
    known.push('new');
    expect((await loaderCache(cache).readThrough(['new'], dept.fetch)).get('new')).toEqual({ id: 'new', n: 3 });
  });

  it('serves but does not cache a record larger than the size limit', async () => {
    const cache = createMemoryRecordCache();
    const dept = department(['big']);
    await loaderCache(cache, { maxRecordBytes: 5 }).readThrough(['big'], dept.fetch);
    await loaderCache(cache, { maxRecordBytes: 5 }).readThrough(['big'], dept.fetch);
    expect(dept.asked).toEqual([['big'], ['big']]);
  });

  it('fails only the keys it had to ask for when the department fails', async () => {
    const cache = createMemoryRecordCache();
    await loaderCache(cache).readThrough(['a'], department(['a']).fetch);
    const failing = async (): Promise<ReadonlyMap<string, Rec>> => {
      throw new ConnectorUnavailableError('tax', 'connection refused');
    };
    const got = await loaderCache(cache).readThrough(['a', 'b'], failing);
    expect(got.get('a')).toEqual({ id: 'a', n: 1 });
    expect(got.get('b')).toBeInstanceOf(ConnectorUnavailableError);
    expect((got.get('b') as ConnectorUnavailableError).code).toBe('CONNECTOR_UNAVAILABLE');
    expect((got.get('b') as Error).message).toBe('Department system "tax" is unavailable: connection refused.');
  });

  it('asks again itself when the call it joined died with its own request', async () => {
    const cache = createMemoryRecordCache();
    const owner = new AbortController();
    const dept = department(['k'], 30);
    const first = loaderCache(cache, { signal: owner.signal }).readThrough(['k'], async () => {
      await new Promise((r) => setTimeout(r, 10));
      throw new ConnectorUnavailableError('tax', 'call aborted');
    });
    const second = loaderCache(cache).readThrough(['k'], dept.fetch);
    owner.abort();
    expect((await first).get('k')).toBeInstanceOf(Error);
    expect((await second).get('k')).toEqual({ id: 'k', n: 1 });
    expect(dept.asked).toEqual([['k']]);
  });

  it('never reads the records of another schema version', async () => {
    const cache = createMemoryRecordCache();
    const dept = department(['a']);
    await loaderCache(cache, { version: cacheVersionOf(['type A { a: Int }']) }).readThrough(['a'], dept.fetch);
    await loaderCache(cache, { version: cacheVersionOf(['type A { a: Int b: Int }']) }).readThrough(['a'], dept.fetch);
    expect(dept.asked).toEqual([['a'], ['a']]);
    expect(cacheVersionOf(['x'])).toMatch(/^[0-9a-f]{16}$/);
  });

  it('caches nothing for a connector without a time to live', () => {
    const caches = createLoaderCaches({ cache: createMemoryRecordCache(), version: 'v', ttlSeconds: { tax: 0 } });
    expect(caches.forConnector('tax', new AbortController().signal)).toBeUndefined();
    expect(caches.forConnector('real-estate', new AbortController().signal)).toBeUndefined();
  });

  it('evicts a record so that the next read asks the department', async () => {
    const cache = createMemoryRecordCache();
    const caches = createLoaderCaches({ cache, version: 'v', ttlSeconds: { tax: 60 } });
    const dept = department(['a']);
    const read = () => caches.forConnector('tax', new AbortController().signal)!.loader('taxpayerById').readThrough(['a'], dept.fetch);
    await read();
    await caches.evict([{ connector: 'tax', loader: 'taxpayerById', key: 'a' }]);
    await read();
    expect(dept.asked).toEqual([['a'], ['a']]);
  });

  it('keeps createBatchLoader one result per key, in key order, with a cache', async () => {
    const cache = createMemoryRecordCache();
    const dept = department(['a', 'bb']);
    const loader = () => createBatchLoader<string, Rec>(dept.fetch, { cache: loaderCache(cache) });
    await loader().load('bb');
    expect(await loader().loadMany(['none', 'bb', 'a'])).toEqual([null, { id: 'bb', n: 2 }, { id: 'a', n: 1 }]);
    expect(dept.asked).toEqual([['bb'], ['none', 'a']]);
  });
});
