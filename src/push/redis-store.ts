/**
 * The delivery queue on Redis, for several hub instances: the ordered lanes of src/state
 * (`SharedState.deliveryLanes`), one lane per (subscriber, subject). Each instance claims as
 * its own consumer; a claim it holds is kept fresh by a heartbeat, and one idle for
 * `takeoverIdleMs` (its instance died) is taken over by whichever instance claims next, with
 * the same event and so the same `webhook-id`.
 */
import crypto from 'node:crypto';
import type { LaneEntry, RedisDeliveryLanes, SharedState } from '../state';
import { PushError, PushErrorCode, PushInputError } from './errors';
import { checkEnqueue, type Claim, type DeadEntry, type DeliveryStore, type PushEvent } from './types';

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** The shared state, in Redis mode. */
  state: SharedState;
  /** The queue's name (several queues can share one Redis). @default 'webhooks' */
  name?: string;
  /** This instance's consumer name. @default random */
  consumer?: string;
  /** A claim idle this long is taken over by another instance. @default 30000 */
  takeoverIdleMs?: number;
  /** How often held claims are renewed. @default takeoverIdleMs / 3 */
  heartbeatMs?: number;
  /** How long a delivered event id is remembered for idempotent enqueue. @default 7 days */
  dedupeTtlMs?: number;
  /** The clock of enqueue times (ms). */
  now?: () => number;
}

interface Payload {
  s: string;
  ev: PushEvent;
  t: number;
}

const laneOf = (s: string, subject: string): string => JSON.stringify([s, subject]);
const dedupeKey = (s: string, id: string): string => `${s}\n${id}`;

/** A delivery store on the shared state's Redis. */
export function createRedisStore(options: RedisStoreOptions): DeliveryStore {
  const name = options.name ?? 'webhooks';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new PushInputError('A delivery queue name must be 1 to 64 letters, digits, "_" or "-".');
  const consumer = options.consumer ?? `push-${crypto.randomUUID()}`;
  const lanes: RedisDeliveryLanes | undefined = options.state?.deliveryLanes(name, consumer);
  if (!lanes) throw new PushInputError('The Redis delivery store needs the shared state in Redis mode.');
  const now = options.now ?? Date.now;
  const idleMs = options.takeoverIdleMs ?? 30_000;
  const ttl = options.dedupeTtlMs ?? 7 * 24 * 3600_000;
  if (!(idleMs > 0)) throw new PushInputError('takeoverIdleMs must be positive.');
  const held = new Map<string, LaneEntry>();
  let lastPrune = 0;
  const heartbeat = setInterval(() => {
    if (held.size > 0) lanes.touch([...held.keys()]).catch(() => undefined);
  }, options.heartbeatMs ?? Math.max(10, Math.floor(idleMs / 3)));
  heartbeat.unref();

  function toClaim(entry: LaneEntry): Claim | undefined {
    let p: Payload;
    try {
      p = JSON.parse(entry.payload) as Payload;
    } catch {
      return undefined;
    }
    return { subscriberId: p.s, event: p.ev, attempts: entry.attempts, enqueuedAt: p.t, token: entry.entryId };
  }

  function entryOf(claim: Claim): LaneEntry {
    const entry = held.get(claim.token);
    if (entry) return entry;
    // Not held here (any more): describe it all the same; the scripts' XACK guard decides.
    return { entryId: claim.token, lane: laneOf(claim.subscriberId, claim.event.subject), itemId: claim.event.id, payload: JSON.stringify({ s: claim.subscriberId, ev: claim.event, t: claim.enqueuedAt }), attempts: claim.attempts };
  }

  async function deadOf(eventId: string, subscriberId?: string): Promise<{ lane: string; subscriberId: string }[]> {
    const found = (await lanes!.dead())
      .filter((d) => d.itemId === eventId)
      .map((d) => ({ lane: d.lane, subscriberId: (JSON.parse(d.lane) as [string, string])[0] }))
      .filter((d) => subscriberId === undefined || d.subscriberId === subscriberId);
    if (found.length === 0) throw new PushError(PushErrorCode.PUSH_NOT_DEAD, `Event ${JSON.stringify(eventId)} is not dead${subscriberId ? ` for subscriber ${JSON.stringify(subscriberId)}` : ''}.`);
    return found;
  }

  return {
    async enqueue(subscriberId, event) {
      checkEnqueue(subscriberId, event);
      const payload = JSON.stringify({ s: subscriberId, ev: event, t: now() } satisfies Payload);
      return lanes.enqueue(laneOf(subscriberId, event.subject), event.id, payload, dedupeKey(subscriberId, event.id), now());
    },
    async enqueueAll(items) {
      for (const { subscriberId, event } of items) checkEnqueue(subscriberId, event);
      const out: boolean[] = [];
      // One after the other: order within a lane is the order of the calls.
      for (const { subscriberId, event } of items) out.push(await this.enqueue(subscriberId, event));
      return out;
    },
    async claim(max, nowMs) {
      if (nowMs - lastPrune > 60_000) {
        lastPrune = nowMs;
        await lanes.prune(nowMs - ttl);
      }
      const out: Claim[] = [];
      for (const entry of await lanes.claim(max, nowMs, idleMs)) {
        // Our own delivery that went idle (a missed heartbeat) is still running here: not a second time.
        if (held.has(entry.entryId)) continue;
        const claim = toClaim(entry);
        if (!claim) {
          // Not ours to read (written by something else): leave it dead, listed, rather than loop on it.
          await lanes.kill(entry, JSON.stringify({ why: 'unreadable queue entry', n: entry.attempts, at: nowMs }));
          continue;
        }
        held.set(entry.entryId, entry);
        out.push(claim);
      }
      return out;
    },
    async complete(claim) {
      const ok = await lanes.complete(entryOf(claim), dedupeKey(claim.subscriberId, claim.event.id), now());
      held.delete(claim.token);
      return ok;
    },
    async retry(claim, dueAt) {
      const ok = await lanes.retryLater(entryOf(claim), claim.attempts + 1, dueAt);
      held.delete(claim.token);
      return ok;
    },
    async kill(claim, reason, nowMs) {
      const ok = await lanes.kill(entryOf(claim), JSON.stringify({ why: reason, n: claim.attempts + 1, at: nowMs, ev: claim.event }));
      held.delete(claim.token);
      return ok;
    },
    async release(claim) {
      const entry = held.get(claim.token);
      held.delete(claim.token);
      if (entry) await lanes.release(entry);
    },
    async listDead(subscriberId) {
      const out: DeadEntry[] = [];
      for (const d of await lanes.dead()) {
        const [s] = JSON.parse(d.lane) as [string, string];
        if (subscriberId !== undefined && s !== subscriberId) continue;
        const note = JSON.parse(d.note) as { why: string; n: number; at: number; ev?: PushEvent };
        out.push({ subscriberId: s, event: note.ev ?? ({ id: d.itemId } as PushEvent), attempts: note.n, reason: note.why, at: note.at });
      }
      return out;
    },
    async replay(eventId, subscriberId) {
      let n = 0;
      for (const d of await deadOf(eventId, subscriberId)) if (await lanes.replay(d.lane, eventId)) n++;
      return n;
    },
    async skip(eventId, subscriberId) {
      let n = 0;
      for (const d of await deadOf(eventId, subscriberId)) if (await lanes.skip(d.lane, eventId, dedupeKey(d.subscriberId, eventId), now())) n++;
      return n;
    },
    pending: () => lanes.size(),
    async close() {
      clearInterval(heartbeat);
      held.clear();
    },
  };
}
