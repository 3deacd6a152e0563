/**
 * The hub's one in-memory cache: least recently used entries are dropped first once the entries'
 * estimated sizes add up to more than a byte budget. Built on lru-cache (its `maxSize` and
 * `sizeCalculation`); major 11 is pinned because it runs on Node 20 (`engines: 20 || >=22`).
 */
import { LRUCache } from 'lru-cache';

/** Options of `createByteLru`. */
export interface ByteLruOptions<K, V> {
  /** The budget, a positive integer: the sum of `sizeOf` over every entry never exceeds it. */
  readonly maxBytes: number;
  /**
   * An honest estimate of the bytes one entry holds (key and value), at least 1. An entry whose
   * estimate is over `maxBytes` is not stored at all.
   */
  readonly sizeOf: (key: K, value: V) => number;
}

/** A cache bounded by the estimated bytes of its entries, least recently used dropped first. */
export interface ByteLru<K, V> {
  /** The value for the key (and marks it recently used), or undefined. */
  get(key: K): V | undefined;
  /** Stores the value, dropping the least recently used entries to stay within the budget; returns false when the entry alone is over the budget and was not stored. */
  set(key: K, value: V): boolean;
  /** Removes the key; true when it was there. */
  delete(key: K): boolean;
  /** Removes every entry. */
  clear(): void;
  /** The number of entries. */
  readonly size: number;
  /** The sum of the entries' estimated sizes, in bytes. */
  readonly calculatedSize: number;
  /** The budget, in bytes. */
  readonly maxBytes: number;
}

/** Creates a cache bounded by bytes (`maxBytes`), each entry's size estimated by `sizeOf`. */
export function createByteLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(options: ByteLruOptions<K, V>): ByteLru<K, V> {
  const { maxBytes, sizeOf } = options;
  // lru-cache itself refuses a maxSize that is not a positive integer, when the cache is created.
  const cache = new LRUCache<K, V>({
    maxSize: maxBytes,
    // lru-cache wants a positive integer; an estimate is rounded up and never below 1.
    sizeCalculation: (value, key) => Math.max(1, Math.ceil(sizeOf(key, value))),
  });
  return {
    get: (key) => cache.get(key),
    set: (key, value) => {
      // lru-cache refuses an entry over maxSize (and deletes an older value under the key): say so.
      cache.set(key, value);
      return cache.has(key);
    },
    delete: (key) => cache.delete(key),
    clear: () => cache.clear(),
    get size() {
      return cache.size;
    },
    get calculatedSize() {
      return cache.calculatedSize;
    },
    maxBytes,
  };
}
