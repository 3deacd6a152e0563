/**
 * Invalidation from a department's change feed: one instance (the holder of a lease) polls the
 * feed every few hundred milliseconds from a cursor the instances share, evicts the records it
 * names from the cache, every tier of every instance, and publishes its events. Whoever takes the lease over continues
 * from the shared cursor, so no change is skipped.
 */
import type { CachedRecordRef } from './read-through';
import type { Lease, SharedValue } from './lease';

/** One page of a change feed, as cache keys, and the page's events for whoever publishes them. */
export interface ChangeFeedPage {
  /** The records the page's events changed. */
  readonly changed: readonly CachedRecordRef[];
  /** The page's events, oldest first, opaque here (handed to `publish`). @default none */
  readonly events?: readonly unknown[];
  readonly nextCursor: string;
  readonly hasMore: boolean;
}

/** A change feed the poller can read. */
export interface ChangeFeed {
  /** Its name (for events). */
  readonly name: string;
  /** The cursor to start from when the instances share none yet (the current end: history is not re-read). */
  readonly startCursor: string;
  /** Reads the page after a cursor. */
  read(cursor: string, signal: AbortSignal): Promise<ChangeFeedPage>;
}

/** What the poller reports (never record identifiers). */
export type InvalidationEvent = { type: 'invalidation-failed'; feed: string; reason: string } | { type: 'invalidated'; feed: string; records: number };

/** Options of the poller. */
export interface InvalidationPollerOptions {
  feed: ChangeFeed;
  /** Only its holder polls. */
  lease: Lease;
  /** The shared cursor. */
  cursor: SharedValue;
  /** Removes records from the cache. */
  evict(refs: readonly CachedRecordRef[]): Promise<void>;
  /**
   * Hands a page's events on (to the hub's event stream), after the eviction and before the
   * cursor moves: a failure re-reads the page, so an event may be published twice, never lost.
   */
  publish?(events: readonly unknown[]): Promise<void>;
  /** Time between polls, in milliseconds. @default 300 */
  intervalMs?: number;
  /** Pages read per poll at most (a long backlog is caught up over several polls). @default 20 */
  maxPagesPerPoll?: number;
  onEvent?: (event: InvalidationEvent) => void;
}

/** Defaults of the poller. */
export const DEFAULT_INVALIDATION_POLLER = Object.freeze({ intervalMs: 300, maxPagesPerPoll: 20 });

/** A running poller. */
export interface InvalidationPoller {
  /** Runs one poll now (if this instance holds the lease); resolves to the records evicted. */
  pollOnce(): Promise<number>;
  /**
   * The first poll, run at start: once it settled, the shared cursor is set (a fresh one at the
   * feed's current end), so no change made after it is skipped. A failed first poll settles too.
   */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** Starts polling a change feed. */
export function startInvalidationPoller(options: InvalidationPollerOptions): InvalidationPoller {
  const intervalMs = options.intervalMs ?? DEFAULT_INVALIDATION_POLLER.intervalMs;
  const maxPages = options.maxPagesPerPoll ?? DEFAULT_INVALIDATION_POLLER.maxPagesPerPoll;
  const emit = options.onEvent ?? (() => undefined);
  const controller = new AbortController();
  let running: Promise<number> | undefined;
  let stopped = false;

  async function poll(): Promise<number> {
    if (!(await options.lease.tryHold())) return 0;
    let evicted = 0;
    let cursor = (await options.cursor.get()) ?? options.feed.startCursor;
    for (let page = 0; page < maxPages && !stopped; page++) {
      const next = await options.feed.read(cursor, controller.signal);
      if (next.changed.length > 0) {
        // Evicted before the cursor moves: a failure here re-reads the page next time.
        await options.evict(next.changed);
        evicted += next.changed.length;
      }
      if (next.events && next.events.length > 0 && options.publish) await options.publish(next.events);
      if (next.nextCursor !== cursor) {
        await options.cursor.set(next.nextCursor);
        cursor = next.nextCursor;
      }
      if (!next.hasMore) break;
    }
    if (evicted > 0) emit({ type: 'invalidated', feed: options.feed.name, records: evicted });
    return evicted;
  }

  function pollOnce(): Promise<number> {
    running ??= poll()
      .catch((error: unknown) => {
        emit({ type: 'invalidation-failed', feed: options.feed.name, reason: (error as { code?: string })?.code ?? (error as Error)?.name ?? 'error' });
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => void pollOnce(), intervalMs);
  timer.unref();
  const started = pollOnce().then(() => undefined);
  return {
    pollOnce,
    started,
    async stop() {
      stopped = true;
      clearInterval(timer);
      controller.abort();
      await running;
      await options.lease.release();
    },
  };
}
