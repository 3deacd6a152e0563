/**
 * The hub's event stream: the events the change-feed pollers read, handed to every instance's
 * listeners (the subscriptions it serves). One instance polls each feed (the lease holder); with
 * several instances its events go through a Redis stream that every instance reads, so a
 * subscriber connected to any instance sees every event. Embedded, the stream is in process.
 *
 * Live only: a listener sees the events published after it started listening. A poller that
 * re-reads a page after a failure publishes its events again; listeners see each event once
 * (deduplicated by its key over a bounded window).
 */
import type { RedisStreams } from '../state';
import { eventKeyOf, type HubEvent } from './events';

/** Defaults of the shared event stream. */
export const DEFAULT_EVENT_STREAM = Object.freeze({
  /** How often each instance reads the shared stream, in milliseconds. */
  pollMs: 200,
  /** How long events stay in the shared stream (a live stream: only instances that lag read old ones). */
  retentionMs: 10 * 60_000,
  /** Event keys remembered to drop a re-published event. */
  dedupeWindow: 20_000,
});

/** The name of the shared stream in Redis. */
const STREAM = 'events';

/** Where events go and who hears them. */
export interface EventStream {
  /** Publishes events (in order); resolves once they are on their way to every instance. */
  publish(events: readonly HubEvent[]): Promise<void>;
  /** Calls `listener` with every event published from now on, once each; returns the unsubscribe function. */
  listen(listener: (event: HubEvent) => void): () => void;
  /** Listeners now attached (for metrics and tests). */
  readonly listeners: number;
  close(): Promise<void>;
}

/** Listeners, each event once (a window of recent keys). */
function fanOut(dedupeWindow: number): { emit(event: HubEvent): void; listen(listener: (event: HubEvent) => void): () => void; readonly size: number } {
  const listeners = new Set<(event: HubEvent) => void>();
  const seen = new Set<string>();
  return {
    emit(event) {
      const key = eventKeyOf(event);
      if (seen.has(key)) return;
      seen.add(key);
      if (seen.size > dedupeWindow) seen.delete(seen.values().next().value!);
      for (const listener of listeners) listener(event);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}

/** The stream of one embedded hub: in process. */
export function createLocalEventStream(options: { dedupeWindow?: number } = {}): EventStream {
  const out = fanOut(options.dedupeWindow ?? DEFAULT_EVENT_STREAM.dedupeWindow);
  return {
    async publish(events) {
      for (const event of events) out.emit(event);
    },
    listen: (listener) => out.listen(listener),
    get listeners() {
      return out.size;
    },
    async close() {},
  };
}

/** Options of the shared stream. */
export interface SharedEventStreamOptions {
  readonly streams: RedisStreams;
  /** @default DEFAULT_EVENT_STREAM.pollMs */
  readonly pollMs?: number;
  /** @default DEFAULT_EVENT_STREAM.retentionMs */
  readonly retentionMs?: number;
  /** Reports a read that failed (Redis away); the next poll tries again from where it was. */
  readonly onError?: (error: unknown) => void;
}

/** The stream of several instances: a Redis stream every instance polls from the moment it started. */
export function createSharedEventStream(options: SharedEventStreamOptions): EventStream {
  const { streams } = options;
  const pollMs = options.pollMs ?? DEFAULT_EVENT_STREAM.pollMs;
  const retentionMs = options.retentionMs ?? DEFAULT_EVENT_STREAM.retentionMs;
  const out = fanOut(DEFAULT_EVENT_STREAM.dedupeWindow);
  // Entries after the moment this instance started (stream ids are the Redis server's milliseconds).
  let after = `${Date.now()}-0`;
  let reading: Promise<void> | undefined;
  let closed = false;
  let lastTrim = 0;

  async function read(): Promise<void> {
    for (;;) {
      const entries = await streams.range(STREAM, `(${after}`, '+', 200);
      for (const entry of entries) {
        after = entry.id;
        const event = parseEvent(entry.fields['event']);
        if (event) out.emit(event);
      }
      if (entries.length < 200 || closed) return;
    }
  }

  const timer = setInterval(() => {
    if (closed) return;
    reading ??= read()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        reading = undefined;
      });
  }, pollMs);
  timer.unref();

  return {
    async publish(events) {
      for (const event of events) await streams.add(STREAM, { event: JSON.stringify(event) });
      const now = Date.now();
      if (now - lastTrim > 60_000) {
        lastTrim = now;
        await streams.trimBefore(STREAM, `${now - retentionMs}-0`).catch((error: unknown) => options.onError?.(error));
      }
    },
    listen: (listener) => out.listen(listener),
    get listeners() {
      return out.size;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await reading;
    },
  };
}

/** An event read back from the shared stream; undefined for anything that is not one (never thrown at a listener). */
function parseEvent(text: string | undefined): HubEvent | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as HubEvent;
    return typeof value?.id === 'string' && typeof value.department === 'string' && typeof value.type === 'string' && typeof value.subject?.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
