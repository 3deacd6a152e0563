/**
 * Deliveries of one stream in order, their access records made durable together. A delivery runs
 * in two steps (`Pipeline.stage`): first the policy, execution, masks, seals and the append of its
 * access record (chained, not yet durable), then, once the record is durable, its reply. Awaiting
 * each record's durability before running the next event gave every delivery its own fsync;
 * here the next event is run while the records before it are still being written, so the audit
 * log's group commit writes them with one fsync, and each reply is sent once its own record is
 * durable and every reply before it was sent.
 *
 * What stays as it was, one event at a time:
 * - no reply is sent before its record is durable (a record that could not be written sends the
 *   AUDIT_UNAVAILABLE refusal instead, and ends the line);
 * - replies are sent in the order of the events;
 * - events are run one after the other, and one is run only when nothing before it was refused:
 *   a delivery refused when it runs (the grant or consent ended, POLICY_DENIED…) is the last one
 *   run and recorded, and `stopped()` (the stream ended: its lifetime bound, the client went away)
 *   is asked before each event is run. The replies before a refusal are sent, then the refusal;
 *   nothing after it is run, recorded or sent.
 *
 * A record's failure is known only once it is written: events run after it (appended behind it)
 * are not sent. The audit log rejects every append queued behind a failed write, so their
 * records are not durable either.
 */
import type { ErrorCode } from '../sdk';
import type { HubReply } from './pipeline';

/** A delivery run up to its access record (see `Pipeline.stage`). */
export interface StagedDelivery {
  /** Its refusal code when it was refused as it ran (the policy, consent, execution); null: it ran. */
  readonly code: ErrorCode | null;
  /** Its reply, once its access record is durable (AUDIT_UNAVAILABLE when it could not be written); never rejects. */
  readonly reply: Promise<HubReply>;
}

/** Defaults of the ordered deliveries. */
export const DEFAULT_ORDERED_DELIVERY = Object.freeze({
  /** Deliveries run whose replies are not sent yet (records waiting to be durable), at most. */
  window: 64,
});

/** What the line runs on. */
export interface OrderedDeliveryOptions<E> {
  /** The next event to deliver, or undefined when none waits (the line then ends). */
  next(): E | undefined;
  /** Runs one event up to its access record (appended when this resolves). */
  stage(event: E): Promise<StagedDelivery>;
  /** True once nothing more may be run or sent (the stream ended); asked before each event is run and before each reply is sent. */
  stopped(): boolean;
  /** Sends one granted reply; called in event order, each after its record is durable. */
  send(reply: HubReply, event: E): void;
  /** @default DEFAULT_ORDERED_DELIVERY.window */
  readonly window?: number;
}

/** How a line ended. */
export interface OrderedDeliveryResult {
  /** Replies sent. */
  readonly sent: number;
  /** The refusal that ended the line (its reply, sent to nobody yet: the caller ends the stream with it), if any. */
  readonly refusal?: HubReply;
}

/**
 * Delivers the events `next()` hands out until none is left, one is refused or the line is
 * stopped; resolves once every reply that may go out was sent. Rejects only when `stage` or
 * `send` throws (after the replies before it were sent).
 */
export async function deliverInOrder<E>(options: OrderedDeliveryOptions<E>): Promise<OrderedDeliveryResult> {
  const window = Math.max(1, Math.floor(options.window ?? DEFAULT_ORDERED_DELIVERY.window));
  let sent = 0;
  let refusal: HubReply | undefined;
  let failure: { error: unknown } | undefined;
  // Set by the sender at a refusal, a failure or a stop: nothing more is run or sent.
  let halted = false;
  // Run, not yet sent, in event order.
  const waiting: { event: E; staged: StagedDelivery }[] = [];
  let sender: Promise<void> = Promise.resolve();
  let senderRunning = false;
  let room: (() => void) | undefined;

  // Sends the waiting replies in order, each once its record is durable; returns when none waits or the line halted.
  async function sendAll(): Promise<void> {
    senderRunning = true;
    try {
      while (waiting.length > 0 && !halted) {
        const { event, staged } = waiting[0]!;
        const reply = await staged.reply;
        waiting.shift();
        room?.();
        if (options.stopped()) {
          halted = true;
        } else if (reply.code !== null) {
          refusal = reply;
          halted = true;
        } else {
          options.send(reply, event);
          sent++;
        }
      }
    } catch (error) {
      failure ??= { error };
      halted = true;
    } finally {
      senderRunning = false;
      room?.();
    }
  }

  try {
    for (;;) {
      if (halted || options.stopped()) break;
      if (waiting.length >= window) {
        await new Promise<void>((resolve) => (room = resolve));
        room = undefined;
        continue;
      }
      const event = options.next();
      if (event === undefined) break;
      const staged = await options.stage(event);
      // A reply nobody awaits (the line halted) still settles quietly.
      staged.reply.catch(() => undefined);
      waiting.push({ event, staged });
      if (!senderRunning) sender = sendAll();
      // Refused as it ran: the last event run; the replies before it go out, then the line ends with it.
      if (staged.code !== null) break;
    }
  } catch (error) {
    failure ??= { error };
  }
  // The sender takes every reply pushed while it runs; after the runner's last push it was running or started.
  await sender;
  if (failure) throw failure.error;
  return { sent, ...(refusal ? { refusal } : {}) };
}
