/**
 * The shapes shared by the delivery queue's stores and the dispatcher: the event pushed, a claim
 * on one delivery, a dead letter, what a delivery attempt reports, and the store interface both
 * stores (a local file, Redis streams) implement.
 */
import { PushInputError } from './errors';

/** An event to push. Only `id` and `subject` matter to the queue; the whole object is kept and handed back. */
export interface PushEvent {
  /** Unique: the queue is idempotent by it, and it is the `webhook-id` receivers dedupe by. */
  readonly id: string;
  /** What the event is about (`ENTERPRISE:91370…`): order is kept per subject per subscriber. */
  readonly subject: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly [field: string]: unknown;
}

/** What one delivery attempt reports. */
export type DeliveryResult =
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly outcome: 'permanent'; readonly reason: string; /** 410 Gone: the endpoint should be disabled. */ readonly disable?: boolean };

/** One delivery a dispatcher holds: the head of its (subscriber, subject) lane. */
export interface Claim {
  readonly subscriberId: string;
  readonly event: PushEvent;
  /** Attempts made before this one. */
  readonly attempts: number;
  /** When it was enqueued (the store's clock, ms). */
  readonly enqueuedAt: number;
  /** The store's handle (opaque). */
  readonly token: string;
}

/** A delivery that exhausted its attempts (or age, or failed permanently): it holds its lane. */
export interface DeadEntry {
  readonly subscriberId: string;
  readonly event: PushEvent;
  readonly attempts: number;
  readonly reason: string;
  /** When it died (ms). */
  readonly at: number;
}

/**
 * A durable delivery queue. Per subscriber and subject, events form a *lane*: only its head is
 * ever claimed, and the next one only after the head is completed or skipped, so order per
 * subject per subscriber holds whoever delivers. A dead head holds its lane.
 */
export interface DeliveryStore {
  /** Queues `event` for `subscriberId`; false (and nothing queued) if that event id was queued for it before. */
  enqueue(subscriberId: string, event: PushEvent): Promise<boolean>;
  /**
   * Queues several events in this order, each as `enqueue` would (checked first: one bad item
   * queues none); resolves to whether each was queued. The file store makes them durable with
   * one fsync.
   */
  enqueueAll(items: readonly { readonly subscriberId: string; readonly event: PushEvent }[]): Promise<boolean[]>;
  /** Up to `max` lane heads due at `nowMs`, now held by the caller (taken over from dead holders where the store does that). */
  claim(max: number, nowMs: number): Promise<Claim[]>;
  /** Delivered: the lane moves on. False when the claim was no longer held (another instance took it over). */
  complete(claim: Claim): Promise<boolean>;
  /** Failed: try again at `dueAt` (ms), with the attempt counted. */
  retry(claim: Claim, dueAt: number, reason: string): Promise<boolean>;
  /** Dead: the head stays and holds its lane until `replay` or `skip`. */
  kill(claim: Claim, reason: string, nowMs: number): Promise<boolean>;
  /** Gives a claim back unattempted (a stopping dispatcher). */
  release(claim: Claim): Promise<void>;
  /** The dead letters, of one subscriber or all. */
  listDead(subscriberId?: string): Promise<DeadEntry[]>;
  /** Puts dead event `eventId` (of `subscriberId`, or of every subscriber holding it dead) back at its lane's head with fresh attempts; PUSH_NOT_DEAD if none. Resolves to how many. */
  replay(eventId: string, subscriberId?: string): Promise<number>;
  /** Drops dead event `eventId` (as replay): its lane moves on. */
  skip(eventId: string, subscriberId?: string): Promise<number>;
  /** Events queued and not yet completed or skipped (dead ones included). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

const TEXT = /^[\x21-\x7e]{1,256}$/;

/** Checks an enqueue's arguments; throws PUSH_INPUT_INVALID naming the problem. */
export function checkEnqueue(subscriberId: string, event: PushEvent): void {
  if (typeof subscriberId !== 'string' || !TEXT.test(subscriberId)) throw new PushInputError('A subscriber id must be 1 to 256 printable ASCII characters without spaces.');
  if (!event || typeof event !== 'object') throw new PushInputError('An event must be an object with id, subject, type and occurredAt.');
  if (typeof event.id !== 'string' || !TEXT.test(event.id)) throw new PushInputError('An event id must be 1 to 256 printable ASCII characters without spaces.');
  if (typeof event.subject !== 'string' || event.subject.length === 0 || event.subject.length > 512) throw new PushInputError(`Event ${event.id} needs a subject of 1 to 512 characters.`);
  if (typeof event.type !== 'string' || event.type.length === 0) throw new PushInputError(`Event ${event.id} needs a type.`);
  if (typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))) throw new PushInputError(`Event ${event.id} needs occurredAt as an RFC 3339 time.`);
}
