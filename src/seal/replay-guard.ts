import { ReplayGuardFullError } from './errors';

/** Remembers one-time request ids (`jti`) until their token expires; shared by all hub instances in production (Redis). */
export interface ReplayGuard {
  /** Records `jti` until `expiresAt` (epoch ms); true when it was not seen before, false for a replay. */
  checkAndRemember(jti: string, expiresAt: number): Promise<boolean>;
}

/** Options of the in-memory replay guard. */
export interface MemoryReplayGuardOptions {
  /** Most live ids held at once; beyond it requests are refused (ReplayGuardFullError) rather than let memory grow. @default 1_000_000 */
  readonly maxEntries?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/** Defaults of the in-memory replay guard. */
export const DEFAULT_MEMORY_REPLAY_GUARD = { maxEntries: 1_000_000 } as const;

/**
 * A replay guard for one hub instance. Ids are kept in buckets by expiry second, so expired
 * ids are dropped in whole buckets; memory is bounded by request rate × token lifetime and by
 * `maxEntries`.
 */
export function createMemoryReplayGuard(options: MemoryReplayGuardOptions = {}): ReplayGuard & { readonly size: number } {
  const maxEntries = options.maxEntries ?? DEFAULT_MEMORY_REPLAY_GUARD.maxEntries;
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  const buckets = new Map<number, string[]>();
  let sweptSecond = 0;

  function sweep(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === sweptSecond) return;
    sweptSecond = second;
    for (const [bucket, ids] of buckets) {
      if (bucket >= second) continue;
      for (const id of ids) if ((seen.get(id) ?? Infinity) < nowMs) seen.delete(id);
      buckets.delete(bucket);
    }
  }

  return {
    get size() {
      return seen.size;
    },
    checkAndRemember(jti, expiresAt) {
      const nowMs = now();
      sweep(nowMs);
      const known = seen.get(jti);
      if (known !== undefined && known >= nowMs) return Promise.resolve(false);
      if (expiresAt < nowMs) return Promise.resolve(true); // already expired: the verifier refuses it anyway
      if (seen.size >= maxEntries) return Promise.reject(new ReplayGuardFullError('too many requests in flight to remember their ids'));
      seen.set(jti, expiresAt);
      const bucket = Math.floor(expiresAt / 1000);
      const ids = buckets.get(bucket);
      if (ids) ids.push(jti);
      else buckets.set(bucket, [jti]);
      return Promise.resolve(true);
    },
  };
}
