/**
 * The record cache: serialized department records (and seals) by key, with a time to live. It
 * sits below the per-request loaders, so policy never depends on it. Values are strings: every
 * reader parses its own copy, so no two requests ever share a mutable record object.
 */

/** One value to store. */
export interface CacheEntry {
  readonly key: string;
  readonly value: string;
  /** Time to live, in milliseconds. */
  readonly ttlMs: number;
}

/** Hit and miss counters, for metrics and tests. */
export interface RecordCacheStats {
  hits: number;
  misses: number;
  writes: number;
  evictions: number;
  /** Reads or writes that failed (Redis down): each is served as a miss. */
  errors: number;
}

/**
 * A key-value store of serialized records. Reads and writes never throw: a store that cannot
 * be reached answers every key as a miss and drops writes, so data is still served from the
 * departments.
 */
export interface RecordCache {
  /** `memory`, `redis` or `tiered` (memory in front of Redis). */
  readonly kind: 'memory' | 'redis' | 'tiered';
  /** The value of each key, in key order; undefined for a miss. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Stores values, each with its own time to live. */
  setMany(entries: readonly CacheEntry[]): Promise<void>;
  /** Stores a value unless the key holds one; resolves to the value the key holds afterwards (the first writer wins). */
  setIfAbsent(entry: CacheEntry): Promise<string>;
  /** Removes keys (everywhere: a tiered cache tells every instance). */
  delete(keys: readonly string[]): Promise<void>;
  readonly stats: RecordCacheStats;
  close(): Promise<void>;
}

/** Options of the in-memory cache. */
export interface MemoryRecordCacheOptions {
  /** Most entries held; the least recently used go first. @default 50000 */
  maxEntries?: number;
  /** Most bytes of values held, measured in UTF-8. @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Defaults of the in-memory cache. */
export const DEFAULT_MEMORY_RECORD_CACHE = Object.freeze({ maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 });

/** A fresh set of zeroed counters. */
export function emptyStats(): RecordCacheStats {
  return { hits: 0, misses: 0, writes: 0, evictions: 0, errors: 0 };
}

/** The in-memory cache of one hub instance: a bounded LRU with a time to live per entry. */
export function createMemoryRecordCache(options: MemoryRecordCacheOptions = {}): RecordCache & { readonly size: number; readonly bytes: number } {
  const maxEntries = options.maxEntries ?? DEFAULT_MEMORY_RECORD_CACHE.maxEntries;
  const maxBytes = options.maxBytes ?? DEFAULT_MEMORY_RECORD_CACHE.maxBytes;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: re-inserting on use makes the first entry the least recently used.
  const entries = new Map<string, { value: string; expiresAt: number; bytes: number }>();
  const stats = emptyStats();
  let bytes = 0;

  function remove(key: string): void {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.bytes;
  }

  function get(key: string, at: number): string | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= at) {
      remove(key);
      return undefined;
    }
    entries.delete(key);
    entries.set(key, entry);
    return entry.value;
  }

  function set(entry: CacheEntry, at: number): void {
    const size = Buffer.byteLength(entry.value, 'utf8');
    remove(entry.key);
    if (entry.ttlMs <= 0 || size > maxBytes) return;
    entries.set(entry.key, { value: entry.value, expiresAt: at + entry.ttlMs, bytes: size });
    bytes += size;
    stats.writes++;
    while (entries.size > maxEntries || bytes > maxBytes) {
      remove(entries.keys().next().value!);
      stats.evictions++;
    }
  }

  return {
    kind: 'memory',
    stats,
    get size() {
      return entries.size;
    },
    get bytes() {
      return bytes;
    },
    async getMany(keys) {
      const at = now();
      return keys.map((key) => {
        const value = get(key, at);
        if (value === undefined) stats.misses++;
        else stats.hits++;
        return value;
      });
    },
    async setMany(list) {
      const at = now();
      for (const entry of list) set(entry, at);
    },
    async setIfAbsent(entry) {
      const at = now();
      const held = get(entry.key, at);
      if (held !== undefined) return held;
      set(entry, at);
      return entry.value;
    },
    async delete(keys) {
      for (const key of keys) remove(key);
    },
    async close() {
      entries.clear();
      bytes = 0;
    },
  };
}
