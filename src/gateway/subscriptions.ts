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
import type { GatewayReply, HubReply, HubRequest, StandingOperation } from './pipeline';

/** What the subscriptions run on. */
export interface SubscriptionsOptions {
  readonly schema: GraphQLSchema;
  open(request: HubRequest): Promise<{ reply: HubReply; standing?: StandingOperation }>;
  deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal): Promise<HubReply>;
  readonly events: EventStream;
  /** The longest a stream lives, in milliseconds. */
  readonly maxLifetimeMs: number;
  /** Events waiting for one stream before it ends. */
  readonly maxPending: number;
  /** Streams served at once. */
  readonly maxStreams: number;
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

/** The last message of a stream that ends for a reason of the hub's. */
function ending(code: ErrorCode, message: string): GatewayReply {
  return { errors: [{ message, extensions: { code } }] };
}

export function createSubscriptions(options: SubscriptionsOptions): Subscriptions {
  const now = options.now ?? Date.now;
  const streams = new Set<{ end(reply: GatewayReply): void }>();
  let closed = false;

  async function subscribe(request: HubRequest): Promise<OpenedSubscription> {
    if (closed) return { reply: { requestId: '', code: HubErrorCode.SHUTTING_DOWN, body: ending(HubErrorCode.SHUTTING_DOWN, 'The hub is shutting down: open the subscription on another instance.') } };
    const opened = await options.open(request);
    if (!opened.standing) return { reply: opened.reply };
    const standing = opened.standing;
    if (streams.size >= options.maxStreams) {
      return { reply: { requestId: opened.reply.requestId, code: HubErrorCode.RATE_LIMITED, body: ending(HubErrorCode.RATE_LIMITED, `This instance serves ${options.maxStreams} streams already: retry later or on another instance.`), retryAfterSeconds: 5 } };
    }
    const types = subscribedTypes(options.schema, standing.operation, standing.body.variables);
    return { reply: opened.reply, stream: openStream(standing, types) };
  }

  function openStream(standing: StandingOperation, types: ReadonlySet<string>): SubscriptionStream {
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
        controller.abort();
        notify();
      },
    };
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
      () => entry.end(ending(HubErrorCode.SUBSCRIPTION_EXPIRED, 'The stream reached its lifetime bound: open it again with a new signed request.')),
      Math.max(0, openedAt + options.maxLifetimeMs - now()),
    );
    expiry.unref();
    streams.add(entry);

    // One delivery at a time, in the order the events arrived: the pipeline runs each on its event.
    let delivering = false;
    async function pump(): Promise<void> {
      if (delivering) return;
      delivering = true;
      try {
        while (!done && pending.length > 0) {
          const event = pending.shift()!;
          const reply = await options.deliver(standing, deliveryRoot(event), controller.signal);
          if (done) return;
          if (reply.code !== null) {
            entry.end(reply.body);
            return;
          }
          ready.push(reply.body);
          notify();
        }
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
