/**
 * `sendWebhook`: one signed POST to a subscriber's endpoint, safely. The target must match the
 * allow-list; its host is resolved once, every address checked (allow-list.ts), and the
 * connection made to the checked address (a lookup pinned to it: no second DNS answer, no DNS
 * rebinding); no redirect is followed, the response is read up to a bound and dropped, the whole
 * exchange has a timeout. The answer is a DeliveryResult for the dispatcher: 2xx ok; 408, 429,
 * 5xx, timeouts and connection errors retry (with the `Retry-After` the receiver asked for);
 * other statuses are permanent, and 410 Gone also says the endpoint should be disabled. With
 * `connections` (connections.ts) the connection to a checked address is kept and reused by the
 * next send to the same origin that resolves to the same address; without, each send opens its own.
 */
import dns from 'node:dns';
import net from 'node:net';
import { request, type Dispatcher } from 'undici';
import { checkAddresses, type AllowList } from './allow-list';
import { pinnedAgent, type WebhookConnections } from './connections';
import { PushError, PushInputError } from './errors';
import type { DeliveryResult } from './types';
import type { WebhookSigner } from './signing';

/** A resolved address. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses (dns.lookup by default; tests inject their own). */
export type HostResolver = (host: string) => Promise<ResolvedAddress[]>;

/** Options of `sendWebhook`. */
export interface SendWebhookOptions {
  allowList: AllowList;
  /** For the whole exchange (connect, headers, body). @default 10000 */
  timeoutMs?: number;
  /** How much of a response body is read before it is dropped. @default 65536 */
  maxResponseBytes?: number;
  resolve?: HostResolver;
  /** The webhook timestamp (seconds); default now. */
  timestampSeconds?: number;
  /** Kept connections (createWebhookConnections); without, the connection is opened for this send and closed after it. */
  connections?: WebhookConnections;
}

/** One message to a subscriber. */
export interface WebhookMessage {
  /** The target URL (checked against the allow-list). */
  url: string;
  /** The `webhook-id`: the event id, the same on every attempt so receivers can dedupe. */
  id: string;
  /** The JSON body, as sent and signed. */
  body: string;
}

/** What sending did: a DeliveryResult and, when the receiver answered, its status. */
export type WebhookSendResult = DeliveryResult & { readonly status?: number };

const defaultResolve: HostResolver = async (host) => {
  const found = await dns.promises.lookup(host, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** `Retry-After` as milliseconds (delay-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d{1,9}$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

async function drain(body: AsyncIterable<Buffer> & { destroy(): void }, max: number): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of body) {
      read += chunk.length;
      if (read >= max) break;
    }
  } finally {
    body.destroy();
  }
}

/** Sends one signed webhook; never throws for the receiver's or the network's failures (only for bad input). */
export async function sendWebhook(message: WebhookMessage, signer: WebhookSigner, options: SendWebhookOptions): Promise<WebhookSendResult> {
  if (!options || !options.allowList) throw new PushInputError('sendWebhook needs the allow-list.');
  if (typeof message?.body !== 'string') throw new PushInputError('A webhook body must be a string.');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxResponseBytes = options.maxResponseBytes ?? 65_536;
  let pinned: ResolvedAddress;
  let url: URL;
  try {
    const matched = options.allowList.match(message.url);
    url = matched.url;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: ResolvedAddress[];
    if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) === 6 ? 6 : 4 }];
    else {
      try {
        addresses = await (options.resolve ?? defaultResolve)(host);
      } catch (error) {
        return { outcome: 'retry', reason: `the host ${host} could not be resolved (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
      }
    }
    checkAddresses(host, addresses.map((a) => a.address), matched.entry.allowPrivate === true);
    pinned = addresses[0]!;
  } catch (error) {
    if (error instanceof PushError) return { outcome: 'permanent', reason: error.message };
    throw error;
  }
  const headers = signer.sign(message.id, message.body, options.timestampSeconds);
  // The checked address, whatever the name would resolve to now: a kept agent is keyed by it.
  const kept = options.connections?.dispatcherFor(url.origin, pinned, timeoutMs);
  const agent: Dispatcher = kept ?? pinnedAgent(pinned, timeoutMs);
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'user-agent': 'datarun-webhooks', ...headers },
      body: message.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const status = response.statusCode;
    await drain(response.body as unknown as AsyncIterable<Buffer> & { destroy(): void }, maxResponseBytes).catch(() => undefined);
    if (status >= 200 && status < 300) return { outcome: 'ok', status };
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      return { outcome: 'retry', status, reason: `the receiver answered ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    if (status === 410) return { outcome: 'permanent', status, reason: 'the receiver answered 410 Gone: disable the endpoint', disable: true };
    return { outcome: 'permanent', status, reason: status >= 300 && status < 400 ? `the receiver answered a redirect (${status}), which is not followed` : `the receiver answered ${status}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
    return { outcome: 'retry', reason: `the request failed (${code})` };
  } finally {
    if (!kept) agent.destroy().catch(() => undefined);
  }
}
