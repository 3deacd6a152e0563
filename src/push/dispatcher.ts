/**
 * The dispatcher: pulls due deliveries from a store, hands each to the injected `deliver`
 * (the gateway renders and sends), and applies the answer: ok completes it, retry reschedules
 * it with exponential backoff and jitter (or the receiver's Retry-After), permanent failure, too
 * many attempts or too great an age make it dead (it then holds its lane). At most `concurrency`
 * deliveries run at once; `stop()` stops claiming, waits `graceMs` for running deliveries, and
 * releases the rest (their signal is aborted; a late answer is ignored).
 */
import { PushInputError } from './errors';
import type { Claim, DeliveryResult, DeliveryStore, PushEvent } from './types';

/** Delivers one event to one subscriber. Throwing counts as a retry. */
export type DeliverFunction = (subscriberId: string, event: PushEvent, context: { attempt: number; signal: AbortSignal }) => Promise<DeliveryResult>;

/** Retry schedule: attempt n waits min(maxMs, initialMs * factor^(n-1)), less up to `jitter` of it at random. */
export interface BackoffOptions {
  /** @default 1000 */
  initialMs?: number;
  /** @default 3600000 (an hour) */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** Fraction of the delay taken off at random, 0..1. @default 0.2 */
  jitter?: number;
}

/** Something operators want to hear about. */
export type DispatcherEvent =
  | { type: 'delivered'; subscriberId: string; eventId: string; attempt: number }
  | { type: 'retry'; subscriberId: string; eventId: string; attempt: number; delayMs: number; reason: string }
  | { type: 'dead'; subscriberId: string; eventId: string; attempt: number; reason: string }
  | { type: 'disable'; subscriberId: string; eventId: string; reason: string }
  | { type: 'error'; message: string };

/** Options of the dispatcher. */
export interface DispatcherOptions {
  store: DeliveryStore;
  deliver: DeliverFunction;
  /** Deliveries at once. @default 8 */
  concurrency?: number;
  /** Attempts before an event is dead. @default 12 */
  maxAttempts?: number;
  /** Age (since enqueue) after which a failing event is dead. @default 3 days */
  maxAgeMs?: number;
  backoff?: BackoffOptions;
  /** A Retry-After longer than this is cut to it. @default backoff.maxMs */
  maxRetryAfterMs?: number;
  /** How often to look for due work when there is none. @default 250 */
  pollMs?: number;
  /** Now, in ms (tests inject a clock). */
  now?: () => number;
  /** Random in [0, 1) for jitter. */
  random?: () => number;
  onEvent?: (event: DispatcherEvent) => void;
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Starts the loop (idempotent). */
  start(): void;
  /** Claims what is due now (up to the free slots) and waits until those deliveries are settled; resolves to how many it claimed. */
  runOnce(): Promise<number>;
  /** Wakes the loop (after an enqueue). */
  wake(): void;
  /** Stops claiming; waits up to `graceMs` for running deliveries, then releases the rest. */
  stop(graceMs?: number): Promise<void>;
  /** Deliveries running now. */
  readonly inFlight: number;
}

function positive(value: number | undefined, fallback: number, name: string, allowZero = false): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new PushInputError(`Dispatcher option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number.`);
  return v;
}

/** The delay before retry number `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 3_600_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const base = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt - 1)));
  return Math.round(base * (1 - jitter * random()));
}

/** Creates a dispatcher over a store. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  if (!options?.store || typeof options.deliver !== 'function') throw new PushInputError('A dispatcher needs a store and a deliver function.');
  const { store, deliver } = options;
  const concurrency = Math.floor(positive(options.concurrency, 8, 'concurrency'));
  const maxAttempts = Math.floor(positive(options.maxAttempts, 12, 'maxAttempts'));
  const maxAgeMs = positive(options.maxAgeMs, 3 * 24 * 3600_000, 'maxAgeMs');
  const backoff = options.backoff ?? {};
  positive(backoff.initialMs, 1000, 'backoff.initialMs', true);
  const maxBackoff = positive(backoff.maxMs, 3_600_000, 'backoff.maxMs', true);
  positive(backoff.factor, 2, 'backoff.factor');
  const maxRetryAfterMs = positive(options.maxRetryAfterMs, maxBackoff, 'maxRetryAfterMs', true);
  const pollMs = positive(options.pollMs, 250, 'pollMs');
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const emit = (event: DispatcherEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's failure is not the delivery's.
    }
  };

  const running = new Map<Claim, { abort: AbortController; done: Promise<void>; released: boolean }>();
  let loop: Promise<void> | undefined;
  let stopping = false;
  let wakeUp: (() => void) | undefined;

  async function settle(claim: Claim, result: DeliveryResult): Promise<void> {
    const attempt = claim.attempts + 1;
    const at = now();
    if (result.outcome === 'ok') {
      await store.complete(claim);
      emit({ type: 'delivered', subscriberId: claim.subscriberId, eventId: claim.event.id, attempt });
      return;
    }
    if (result.outcome === 'permanent' && result.disable) emit({ type: 'disable', subscriberId: claim.subscriberId, eventId: claim.event.id, reason: result.reason });
    const tooOld = at - claim.enqueuedAt >= maxAgeMs;
    if (result.outcome === 'permanent' || attempt >= maxAttempts || tooOld) {
      const reason = result.outcome === 'permanent' ? result.reason : `${result.reason} (after ${attempt} attempts${tooOld ? ', too old to retry' : ''})`;
      await store.kill(claim, reason, at);
      emit({ type: 'dead', subscriberId: claim.subscriberId, eventId: claim.event.id, attempt, reason });
      return;
    }
    const computed = backoffDelay(attempt, backoff, random);
    const delayMs = result.retryAfterMs !== undefined ? Math.min(maxRetryAfterMs, Math.max(0, result.retryAfterMs)) : computed;
    await store.retry(claim, at + delayMs, result.reason);
    emit({ type: 'retry', subscriberId: claim.subscriberId, eventId: claim.event.id, attempt, delayMs, reason: result.reason });
  }

  function run(claim: Claim): Promise<void> {
    const abort = new AbortController();
    const slot = { abort, done: Promise.resolve(), released: false };
    slot.done = (async () => {
      let result: DeliveryResult;
      try {
        result = await deliver(claim.subscriberId, claim.event, { attempt: claim.attempts + 1, signal: abort.signal });
        if (!result || !['ok', 'retry', 'permanent'].includes(result.outcome)) result = { outcome: 'retry', reason: 'deliver answered no outcome' };
      } catch (error) {
        result = { outcome: 'retry', reason: `deliver failed: ${(error as Error)?.message ?? String(error)}` };
      }
      if (slot.released) return;
      try {
        await settle(claim, result);
      } catch (error) {
        // The store could not record it: the claim stays held and is taken over or redelivered (at least once).
        emit({ type: 'error', message: `recording a delivery failed: ${(error as Error)?.message ?? String(error)}` });
      }
    })().finally(() => {
      running.delete(claim);
      wakeUp?.();
    });
    running.set(claim, slot);
    return slot.done;
  }

  async function claimAndRun(): Promise<Promise<void>[]> {
    const free = concurrency - running.size;
    if (free <= 0 || stopping) return [];
    const claims = await store.claim(free, now());
    if (stopping) {
      await Promise.all(claims.map((c) => store.release(c).catch(() => undefined)));
      return [];
    }
    return claims.map(run);
  }

  async function mainLoop(): Promise<void> {
    while (!stopping) {
      let started = 0;
      try {
        started = (await claimAndRun()).length;
      } catch (error) {
        emit({ type: 'error', message: `claiming deliveries failed: ${(error as Error)?.message ?? String(error)}` });
      }
      if (stopping) break;
      if (started > 0 && running.size < concurrency) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done(): void {
          clearTimeout(timer);
          wakeUp = undefined;
          resolve();
        }
        wakeUp = done;
      });
    }
  }

  return {
    start() {
      if (!loop && !stopping) loop = mainLoop();
    },
    async runOnce() {
      const started = await claimAndRun();
      await Promise.all(started);
      return started.length;
    },
    wake() {
      wakeUp?.();
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      wakeUp?.();
      await loop;
      const pending = [...running.values()].map((s) => s.done);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const [claim, slot] of running) {
        slot.released = true;
        slot.abort.abort();
        await store.release(claim).catch(() => undefined);
      }
    },
    get inFlight() {
      return running.size;
    },
  };
}
