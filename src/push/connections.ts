/**
 * Kept connections for `sendWebhook`: one undici `Agent` (keep-alive) per (origin, checked
 * address, connect timeout), so that consecutive deliveries to one endpoint reuse a connection
 * instead of opening (and tearing down) one each. The address is part of the key and each agent's
 * lookup is pinned to it: a connection only ever goes to the address that was checked, and when a
 * later resolution of the name gives another address, that address (checked again by the caller)
 * gets an agent of its own. Bounded: at most `maxAgents` are kept (the least recently used one is
 * closed beyond that, its running requests finishing first), an agent unused for `idleMs` is
 * closed, and `close()` ends them all (the gateway's shutdown, after the dispatcher's grace).
 */
import { Agent, type Dispatcher } from 'undici';
import { PushInputError } from './errors';
import type { ResolvedAddress } from './send';

/** Options of `createWebhookConnections`. */
export interface WebhookConnectionsOptions {
  /** Agents kept at most (one per origin and address). @default 64 */
  maxAgents?: number;
  /** An agent unused this long is closed. @default 30000 */
  idleMs?: number;
  /** How long an idle connection is kept open (the receiver's `Keep-Alive: timeout` wins when shorter). @default 4000 */
  keepAliveMs?: number;
}

/** The kept connections of one sender (the gateway's webhooks). */
export interface WebhookConnections {
  /** The agent for `origin` connected to `pinned` (a checked address): the kept one, or a new one. */
  dispatcherFor(origin: string, pinned: ResolvedAddress, connectTimeoutMs: number): Dispatcher;
  /** Agents kept now. */
  readonly size: number;
  /** Closes every agent, ending requests still running (shutdown: the dispatcher has had its grace); `dispatcherFor` refuses afterwards. */
  close(): Promise<void>;
}

function whole(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new PushInputError(`Webhook connections option ${name} must be a positive integer.`);
  return v;
}

/** An agent whose every connection goes to `pinned`, whatever the name would resolve to now. */
export function pinnedAgent(pinned: ResolvedAddress, connectTimeoutMs: number, keepAliveMs?: number): Agent {
  return new Agent({
    connect: {
      timeout: connectTimeoutMs,
      lookup: (_host: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) =>
        opts?.all ? callback(null, [{ address: pinned.address, family: pinned.family }]) : callback(null, pinned.address, pinned.family),
    },
    maxRedirections: 0,
    ...(keepAliveMs !== undefined ? { keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs } : {}),
  } as ConstructorParameters<typeof Agent>[0]);
}

/** Creates a set of kept, address-pinned connections for `sendWebhook`'s `connections` option. */
export function createWebhookConnections(options: WebhookConnectionsOptions = {}): WebhookConnections {
  const maxAgents = whole(options.maxAgents, 64, 'maxAgents');
  const idleMs = whole(options.idleMs, 30_000, 'idleMs');
  const keepAliveMs = whole(options.keepAliveMs, 4000, 'keepAliveMs');
  /** In least-recently-used order (a use moves an entry to the end). */
  const agents = new Map<string, { agent: Agent; usedAt: number }>();
  let closed = false;
  const retire = (agent: Agent): void => {
    agent.close().catch(() => undefined);
  };
  const sweeper = setInterval(
    () => {
      const before = Date.now() - idleMs;
      for (const [key, entry] of agents) {
        if (entry.usedAt > before) continue;
        agents.delete(key);
        retire(entry.agent);
      }
    },
    Math.max(1000, Math.floor(idleMs / 2)),
  );
  sweeper.unref();

  return {
    dispatcherFor(origin, pinned, connectTimeoutMs) {
      if (closed) throw new PushInputError('The webhook connections are closed.');
      const key = JSON.stringify([origin, pinned.address, pinned.family, connectTimeoutMs]);
      let entry = agents.get(key);
      if (entry) agents.delete(key);
      else entry = { agent: pinnedAgent(pinned, connectTimeoutMs, keepAliveMs), usedAt: 0 };
      entry.usedAt = Date.now();
      agents.set(key, entry);
      for (const [oldest, { agent }] of agents) {
        if (agents.size <= maxAgents) break;
        agents.delete(oldest);
        retire(agent);
      }
      return entry.agent;
    },
    get size() {
      return agents.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      const all = [...agents.values()].map((e) => e.agent);
      agents.clear();
      await Promise.all(all.map((a) => a.destroy().catch(() => undefined)));
    },
  };
}
