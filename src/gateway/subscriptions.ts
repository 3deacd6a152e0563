/**
 * Subscriptions to department events: a stream opened by one signed request and fed, event by
 * event, through the pipeline. Opening runs every stage up to consent (so a selection of a field
 * the subscriber is not granted for its purpose is refused before the stream starts) and records
 * the opening; each event of the asked types then runs the standing operation again on that event
 * (`Pipeline.deliver`): the policy and consent at that moment, execution, masks, seals, its own
 * access record and receipt. Nothing reaches a subscriber that a query could not have read.
 *
 * A stream ends, with a last message naming why, when its lifetime bound passes
 * (SUBSCRIPTION_EXPIRED: renewed by a new signed request), when a delivery is refused (the grant
 * or the consent it relied on ended: POLICY_DENIED, MISSING_CONSENT; the log cannot be written:
 * AUDIT_UNAVAILABLE), when the subscriber reads too slowly (SUBSCRIPTION_LAGGING), or when the
 * hub stops (SHUTTING_DOWN). Streams are live: events that happen while none is open are not
 * replayed (registered webhooks are the durable way).
 */
import type { GraphQLSchema } from 'graphql';
import { HubError, HubErrorCode, type ErrorCode } from '../sdk';
import { deliveryRoot, subscribedTypes, type HubEvent } from './events';
import type { EventStream } from './event-stream';
import { deliverInOrder, type StagedDelivery } from './ordered-delivery';
import type { GatewayReply, HubReply, HubRequest, StandingOperation } from './pipeline';

/** What the subscriptions run on. */
export interface SubscriptionsOptions {
  readonly schema: GraphQLSchema;
  open(request: HubRequest): Promise<{ reply: HubReply; standing?: StandingOperation }>;
  deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal): Promise<HubReply>;
  /**
   * `deliver` in two steps (`Pipeline.stage`): when given, a stream runs its next event while the
   * records before it are written, so waiting events share the log's fsyncs
   * (src/gateway/ordered-delivery.ts). Absent, each delivery's record is durable before the next
   * event runs.
   */
  stage?(standing: StandingOperation, root: unknown, signal?: AbortSignal): Promise<StagedDelivery>;
  readonly events: EventStream;
  /** The longest a stream lives, in milliseconds. */
  readonly maxLifetimeMs: number;
  /** Events waiting for one stream before it ends. */
  readonly maxPending: number;
  /** Streams served at once. */
  readonly maxStreams: number;
  /** Streams served at once to one consumer (in the open mode, to one source address). @default maxStreams */
  readonly maxStreamsPerConsumer?: number;
  /** The clock (tests). @default Date.now */
  readonly now?: () => number;
}

/** An open stream: the reply of each delivery, in order, then the end. */
export interface SubscriptionStream extends AsyncIterable<GatewayReply> {
  /** The opening's request id (each delivery's record names it as its correlation id). */
  readonly id: string;
  /** Ends the stream (the client went away). */
  close(): void;
}

/** What opening a subscription answers: a refusal (as any request's), or the stream. */
export type OpenedSubscription = { readonly reply: HubReply; readonly stream?: undefined } | { readonly reply: HubReply; readonly stream: SubscriptionStream };

/** The subscriptions of one gateway. */
export interface Subscriptions {
  subscribe(request: HubRequest): Promise<OpenedSubscription>;
  /** Streams open now. */
  readonly open: number;
  /** Ends every stream (SHUTTING_DOWN) and takes no more. */
  close(): void;
}

const EXPIRED_MESSAGE = 'The stream reached its lifetime bound: open it again with a new signed request.';

/** The last message of a stream that ends for a reason of the hub's. */
function ending(code: ErrorCode, message: string): GatewayReply {
  return { errors: [{ message, extensions: { code } }] };
}

export function createSubscriptions(options: SubscriptionsOptions): Subscriptions {
  const now = options.now ?? Date.now;
  const streams = new Set<{ end(reply: GatewayReply): void }>();
  /** Streams open per holder: the consumer, or in the open mode the source address. */
  const held = new Map<string, number>();
  const perHolder = options.maxStreamsPerConsumer ?? options.maxStreams;
  let closed = false;

  async function subscribe(request: HubRequest): Promise<OpenedSubscription> {
    if (closed) return { reply: { requestId: '', code: HubErrorCode.SHUTTING_DOWN, body: ending(HubErrorCode.SHUTTING_DOWN, 'The hub is shutting down: open the subscription on another instance.') } };
    const opened = await options.open(request);
    if (!opened.standing) return { reply: opened.reply };
    const standing = opened.standing;
    if (streams.size >= options.maxStreams) {
      return { reply: { requestId: opened.reply.requestId, code: HubErrorCode.RATE_LIMITED, body: ending(HubErrorCode.RATE_LIMITED, `This instance serves ${options.maxStreams} streams already: retry later or on another instance.`), retryAfterSeconds: 5 } };
    }
    const holder = standing.caller?.consumer ?? `source:${standing.source}`;
    const holding = held.get(holder) ?? 0;
    if (holding >= perHolder) {
      const who = standing.caller ? 'This consumer holds' : 'This address holds';
      return { reply: { requestId: opened.reply.requestId, code: HubErrorCode.RATE_LIMITED, body: ending(HubErrorCode.RATE_LIMITED, `${who} ${holding} streams on this instance already, the most it may (subscriptions.maxStreamsPerConsumer): close one, or retry later.`), retryAfterSeconds: 5 } };
    }
    const types = subscribedTypes(options.schema, standing.operation, standing.body.variables);
    return { reply: opened.reply, stream: openStream(standing, types, holder) };
  }

  function openStream(standing: StandingOperation, types: ReadonlySet<string>, holder: string): SubscriptionStream {
    const openedAt = now();
    const controller = new AbortController();
    const pending: HubEvent[] = [];
    const ready: GatewayReply[] = [];
    let last: GatewayReply | undefined;
    let done = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };

    const entry = {
      end(reply: GatewayReply | undefined): void {
        if (done) return;
        done = true;
        last = reply;
        unlisten();
        clearTimeout(expiry);
        streams.delete(entry);
        const left = (held.get(holder) ?? 1) - 1;
        if (left > 0) held.set(holder, left);
        else held.delete(holder);
        controller.abort();
        notify();
      },
    };
    // Counted before anything can end the stream, so that its end always finds it counted.
    held.set(holder, (held.get(holder) ?? 0) + 1);
    const unlisten = options.events.listen((event) => {
      if (done || !types.has(event.type)) return;
      if (pending.length >= options.maxPending) {
        entry.end(ending(HubErrorCode.SUBSCRIPTION_LAGGING, `More than ${options.maxPending} events waited for this stream: it ended. Open it again.`));
        return;
      }
      pending.push(event);
      notify();
    });
    const expiry = setTimeout(
      () => entry.end(ending(HubErrorCode.SUBSCRIPTION_EXPIRED, EXPIRED_MESSAGE)),
      Math.max(0, openedAt + options.maxLifetimeMs - now()),
    );
    expiry.unref();
    streams.add(entry);

    // In the order the events arrived, one run after the other; a reply leaves once its record is
    // durable, and the next event runs while the records before it are written (ordered-delivery.ts).
    const stage = options.stage
      ? (event: HubEvent): Promise<StagedDelivery> => options.stage!(standing, deliveryRoot(event), controller.signal)
      : async (event: HubEvent): Promise<StagedDelivery> => {
          const reply = await options.deliver(standing, deliveryRoot(event), controller.signal);
          return { code: reply.code, reply: Promise.resolve(reply) };
        };
    const expired = (): boolean => {
      // The lifetime bound, read from the clock too: the timer may not have run yet in a long backlog.
      if (!done && now() >= openedAt + options.maxLifetimeMs) entry.end(ending(HubErrorCode.SUBSCRIPTION_EXPIRED, EXPIRED_MESSAGE));
      return done;
    };
    let delivering = false;
    async function pump(): Promise<void> {
      if (delivering) return;
      delivering = true;
      try {
        const { refusal } = await deliverInOrder({
          next: () => pending.shift(),
          stage,
          stopped: expired,
          send(reply) {
            ready.push(reply.body);
            notify();
          },
        });
        if (refusal) entry.end(refusal.body);
      } finally {
        delivering = false;
      }
    }

    return {
      id: standing.id,
      close: () => entry.end(undefined),
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            if (ready.length > 0) {
              yield ready.shift()!;
              continue;
            }
            if (done) {
              if (last) yield last;
              return;
            }
            if (pending.length > 0 && !delivering) {
              void pump().catch(() => entry.end(ending(HubErrorCode.INTERNAL_SERVER_ERROR, 'A delivery failed: the stream ended. Open it again.')));
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          entry.end(undefined);
        }
      },
    };
  }

  return {
    subscribe,
    get open() {
      return streams.size;
    },
    close() {
      closed = true;
      for (const stream of [...streams]) stream.end(ending(HubErrorCode.SHUTTING_DOWN, 'The hub is shutting down: open the subscription on another instance.'));
    },
  };
}
