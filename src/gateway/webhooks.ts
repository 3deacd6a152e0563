/**
 * Registered webhooks: the durable way to receive department events. A consumer registers a
 * target URL and a subscription selection with a signed request (`registerWebhook`); the hub
 * admits the selection against the consumer's grants for the request's purpose then, and keeps
 * the registration (Redis documents with several instances, a file embedded). Every event of an
 * asked type is queued for every registration by the instance that read it from its department's
 * feed, before the feed's cursor moves (`enqueue`: a crash in between re-reads the page and queues
 * it again, idempotent by event id, so an event read is never lost to webhooks), and delivered
 * from the durable queue (src/push: in order per subject, at least once,
 * idempotent by event id, retried with backoff, dead letters that hold their subject), and each
 * attempt runs the registration's operation again through the pipeline (`deliver`: the policy at
 * that moment, the record read from the department, masks, seals, an access record and receipt)
 * before it is signed per Standard Webhooks (v1a with the hub's Ed25519 key, published in the
 * JWKS; v1 with the registration's secret when it asked for one) and sent to the target, which
 * must be on the operator's allow-list (docs/webhooks.md).
 */
import { createPrivateKey, createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  createAllowList,
  createDispatcher,
  createRedisStore,
  createWebhookConnections,
  createWebhookSigner,
  openFileStore,
  PushInputError,
  sendWebhook,
  TargetRefusedError,
  webhookPublicJwk,
  type AllowListEntry,
  type DeliveryStore,
  type Dispatcher,
  type DispatcherEvent,
  type PushEvent,
  type WebhookPublicJwk,
} from '../push';
import { HubError, HubErrorCode } from '../sdk';
import { DEFAULT_HUB_ID } from '../seal';
import { ConfigError } from './config';
import type { SharedState } from '../state';
import { deliveryRoot, eventKeyOf, subscribedTypes, type HubEvent } from './events';
import { readOrCreateFile } from './write-once';
import type { EventStream } from './event-stream';
import type { CaseChange } from '../cases';
import type { DeliveryEffects, HubReply, HubRequest, StandingOperation } from './pipeline';
import type { Caller, RequestContext } from './request-context';
import type { GraphQLSchema } from 'graphql';

/** A webhook as registered (what the registry keeps). */
export interface WebhookRegistration {
  readonly id: string;
  readonly consumer: string;
  /** The consumer's roles when it registered. */
  readonly roles: readonly string[];
  readonly url: string;
  /** The subscription document its deliveries run (one `departmentEvents` field). */
  readonly query: string;
  readonly types: readonly string[];
  /** Why it was registered: every delivery is made, and recorded, for this purpose and case. */
  readonly purpose: string;
  readonly caseNumber: string;
  readonly operator: string;
  /** The `whsec_` secret of its v1 signatures, when it asked for one. */
  readonly secret?: string;
  readonly createdAt: string;
  /** Set when the target answered 410 Gone, or the grant it relied on ended: nothing more is sent. */
  readonly disabled?: string;
}

/** The operator's settings of webhooks. */
export interface WebhooksSettings {
  /** Targets a webhook may be registered to (docs/webhooks.md): none, no webhooks. */
  readonly allow: readonly (string | AllowListEntry)[];
  readonly maxAttempts: number;
  readonly maxAgeHours: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** Webhooks one consumer may hold (registrations beyond are refused). */
  readonly maxPerConsumer: number;
  /** With several instances: how long a claim of a dead instance is idle before another takes it over. */
  readonly takeoverSeconds: number;
}

/** What the webhooks run on. */
export interface WebhooksOptions {
  readonly settings: WebhooksSettings;
  readonly schema: GraphQLSchema;
  readonly state: SharedState;
  /** Where the embedded registry and queue live, and where the hub's webhook key is kept (`private/`). */
  readonly dataDir: string;
  readonly keysDir: string;
  /** The hub's id (its trust list's): the owner of the webhook key in the JWKS. @default DEFAULT_HUB_ID */
  readonly hubId?: string;
  readonly instanceId: string;
  admitFor(caller: Caller, request: HubRequest): Promise<StandingOperation>;
  deliver(standing: StandingOperation, root: unknown, signal?: AbortSignal, effects?: DeliveryEffects): Promise<HubReply>;
  /** Opens the cases an event pushed to this department starts (审管联动); their changes go into the delivery's record. */
  openCases?(event: HubEvent, department: string): Promise<readonly CaseChange[]>;
  onEvent?(event: DispatcherEvent | { type: 'webhook-disabled'; webhook: string; reason: string }): void;
}

/** The webhooks of one gateway. */
export interface Webhooks {
  /** Registers a webhook for an authenticated caller; refuses a target off the allow-list or a selection its grants do not allow. */
  register(caller: Caller, input: { url: string; query: string; withSecret: boolean }): Promise<WebhookRegistration>;
  remove(caller: Caller, id: string): Promise<boolean>;
  list(consumer?: string): Promise<WebhookRegistration[]>;
  /**
   * Queues events (in order) for every registration asking for their types, read from the
   * registry as it is now; resolves once they are in the durable queue. The change-feed poller
   * calls it before it moves the feed's cursor.
   */
  enqueue(events: readonly HubEvent[]): Promise<void>;
  /** The hub's webhook key, for the JWKS (with the `datarun` member every published key has: owner, use, validity). */
  readonly publicJwk: WebhookPublicJwk & { readonly datarun: Record<string, unknown> };
  readonly store: DeliveryStore;
  stop(): Promise<void>;
}

const REGISTRY_FILE = 'webhooks.json';
const QUEUE_FILE = 'webhook-queue.jsonl';
const KEY_FILE = 'datarun-hub.webhook.pem';
/** How long an instance trusts its copy of the shared registry (with several instances). */
const REGISTRY_REFRESH_MS = 2000;

/** The hub's Ed25519 webhook key: made on first use, kept under keys/private (0600). */
function webhookKey(keysDir: string, hubId: string): { key: KeyObject; kid: string; createdAt: string } {
  const file = path.join(keysDir, 'private', KEY_FILE);
  // Instances sharing the keys directory and starting at once all end up with the one key that was linked first.
  const key = createPrivateKey(readOrCreateFile(file, () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string));
  const raw = key.export({ format: 'jwk' }).x!;
  return { key, kid: `${hubId}.webhook.${createHash('sha256').update(raw).digest('base64url').slice(0, 16)}`, createdAt: statSync(file).mtime.toISOString() };
}

/** The registry: every instance's view of the registrations. */
interface Registry {
  /** The registrations; `fresh` reads past any copy an instance keeps. */
  all(fresh?: boolean): Promise<WebhookRegistration[]>;
  put(registration: WebhookRegistration): Promise<void>;
  delete(id: string): Promise<void>;
}

/** One instance: a JSON file, written whole and atomically. */
function fileRegistry(dir: string): Registry {
  const file = path.join(dir, REGISTRY_FILE);
  let items: WebhookRegistration[] = [];
  if (existsSync(file)) {
    let read: unknown;
    try {
      read = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      read = error;
    }
    if (!Array.isArray(read)) {
      const why = read instanceof Error ? read.message : 'not a list of webhooks';
      throw new ConfigError(`The webhook registry ${file} cannot be read (${why}): restore it from a backup or remove it (its webhooks are then forgotten).`);
    }
    items = read as WebhookRegistration[];
  }
  const save = (): void => {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(items, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  };
  return {
    all: async () => items,
    async put(registration) {
      items = [...items.filter((r) => r.id !== registration.id), registration];
      save();
    },
    async delete(id) {
      items = items.filter((r) => r.id !== id);
      save();
    },
  };
}

/** Several instances: the shared documents, read again every few seconds. */
function sharedRegistry(state: SharedState): Registry {
  const docs = state.documents('webhooks');
  let cached: { at: number; items: WebhookRegistration[] } | undefined;
  return {
    async all(fresh = false) {
      if (!fresh && cached && Date.now() - cached.at < REGISTRY_REFRESH_MS) return cached.items;
      const ids = await docs.members('all');
      const found = await docs.getMany(ids);
      const items = found.filter((d) => d !== undefined).map((d) => JSON.parse(d!.value) as WebhookRegistration);
      cached = { at: Date.now(), items };
      return items;
    },
    async put(registration) {
      const existing = await docs.get(registration.id);
      if (!existing) await docs.create(registration.id, JSON.stringify(registration), ['all']);
      else await docs.replace(registration.id, existing.version, JSON.stringify(registration));
      cached = undefined;
    },
    async delete(id) {
      const existing = await docs.get(id);
      if (existing) await docs.replace(id, existing.version, JSON.stringify({ ...(JSON.parse(existing.value) as object), disabled: 'removed' }), { remove: ['all'] });
      cached = undefined;
    },
  };
}

export async function startWebhooks(options: WebhooksOptions): Promise<Webhooks> {
  const { settings, state } = options;
  const allowList = createAllowList(settings.allow);
  const hubId = options.hubId ?? DEFAULT_HUB_ID;
  const { key, kid, createdAt } = webhookKey(options.keysDir, hubId);
  const signer = createWebhookSigner({ privateKey: key, kid });
  if (state.mode === 'memory') mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const registry = state.mode === 'memory' ? fileRegistry(options.dataDir) : sharedRegistry(state);
  const store: DeliveryStore = state.mode === 'memory' ? await openFileStore({ file: path.join(options.dataDir, QUEUE_FILE) }) : createRedisStore({ state, name: 'webhooks', consumer: options.instanceId, takeoverIdleMs: settings.takeoverSeconds * 1000 });
  const standing = new Map<string, StandingOperation>();
  // One kept connection per endpoint (origin and checked address), closed at stop.
  const connections = createWebhookConnections();
  const emit = options.onEvent ?? (() => undefined);

  const requestOf = (registration: WebhookRegistration): HubRequest => ({
    body: Buffer.from(JSON.stringify({ query: registration.query, variables: {} }), 'utf8'),
    contentType: 'application/json',
    correlationId: registration.id,
  });

  const callerOf = (registration: WebhookRegistration): Caller => ({
    consumer: registration.consumer,
    roles: registration.roles,
    purpose: registration.purpose,
    caseNumber: registration.caseNumber,
    operator: registration.operator,
    requestTokenId: `webhook:${registration.id}`,
  });

  async function disable(registration: WebhookRegistration, reason: string): Promise<void> {
    await registry.put({ ...registration, disabled: reason });
    standing.delete(registration.id);
    emit({ type: 'webhook-disabled', webhook: registration.id, reason });
  }

  const dispatcher: Dispatcher = createDispatcher({
    store,
    concurrency: settings.concurrency,
    maxAttempts: settings.maxAttempts,
    maxAgeMs: settings.maxAgeHours * 3600_000,
    onEvent: (event) => emit(event),
    async deliver(subscriberId, pushed, { signal }) {
      const registration = (await registry.all()).find((r) => r.id === subscriberId);
      if (!registration || registration.disabled) return { outcome: 'permanent', reason: registration ? `webhook disabled: ${registration.disabled}` : 'webhook removed' };
      const event = (pushed as PushEvent & { event: HubEvent }).event;
      let operation = standing.get(registration.id);
      if (!operation) {
        // After a restart (or on another instance): admitted again, under the grants as they are now.
        try {
          operation = await options.admitFor(callerOf(registration), requestOf(registration));
        } catch (error) {
          if ((error as { code?: string }).code === HubErrorCode.POLICY_DENIED) {
            await disable(registration, 'POLICY_DENIED');
            return { outcome: 'permanent', reason: 'the grant the webhook relied on ended' };
          }
          return { outcome: 'retry', reason: (error as { code?: string }).code ?? 'admission failed' };
        }
        standing.set(registration.id, operation);
      }
      // Each attempt is an access: the record read again, under the grants as they are now, recorded. Once admitted,
      // it opens the case this push starts for the department (once: opening again changes nothing), recorded with it.
      const openCases = options.openCases;
      const reply = await options.deliver(operation, deliveryRoot(event), signal, openCases ? { openCases: () => openCases(event, registration.consumer) } : undefined);
      if (reply.code === HubErrorCode.POLICY_DENIED) {
        await disable(registration, 'POLICY_DENIED');
        return { outcome: 'permanent', reason: 'the grant the webhook relied on ended' };
      }
      if (reply.code !== null) return { outcome: 'retry', reason: reply.code, ...(reply.retryAfterSeconds ? { retryAfterMs: reply.retryAfterSeconds * 1000 } : {}) };
      const body = JSON.stringify({ type: event.type, timestamp: event.occurredAt, data: reply.body, requestId: reply.requestId });
      const sender = registration.secret ? createWebhookSigner({ privateKey: key, kid, secret: registration.secret }) : signer;
      const result = await sendWebhook({ url: registration.url, id: pushed.id, body }, sender, { allowList, timeoutMs: settings.timeoutMs, connections });
      if (result.outcome === 'permanent' && result.disable) await disable(registration, 'GONE');
      return result;
    },
  });
  dispatcher.start();

  return {
    async enqueue(events) {
      if (events.length === 0) return;
      // Fresh: a webhook registered a moment ago on another instance gets the events after its registration.
      const registrations = (await registry.all(true)).filter((r) => !r.disabled);
      const items: { subscriberId: string; event: PushEvent }[] = [];
      for (const event of events) {
        for (const registration of registrations) {
          if (!registration.types.includes(event.type)) continue;
          items.push({ subscriberId: registration.id, event: { id: eventKeyOf(event), subject: `${event.subject.kind}:${event.subject.id}`, type: event.type, occurredAt: event.occurredAt, event } });
        }
      }
      if (items.length === 0) return;
      // Idempotent by event id per webhook: a page read again after a crash queues nothing twice. In order, durable together.
      await store.enqueueAll(items);
      dispatcher.wake();
    },
    publicJwk: { ...webhookPublicJwk(key, kid), datarun: { owner: hubId, ownerKind: 'hub', use: 'webhook', validFrom: createdAt, validTo: null, revokedAt: null } },
    store,
    async register(caller, input) {
      // A registration keeps no obo: its deliveries would be recorded without the original consumer, so none is taken.
      if (caller.onBehalfOf) throw new HubError(HubErrorCode.BAD_REQUEST, "A webhook cannot be registered on behalf of another hub's consumer: its deliveries could not name that consumer in their records. Register it without obo, as the peer hub itself.");
      // Kept as it will be called (the parsed URL's href), so the registration shows the target the deliveries go to.
      const target = allowList.match(input.url).url.href;
      const held = (await registry.all(true)).filter((r) => r.consumer === caller.consumer).length;
      if (held >= settings.maxPerConsumer) {
        throw new HubError(HubErrorCode.BAD_USER_INPUT, `This consumer already holds ${held} webhooks, the most it may (webhooks.maxPerConsumer): remove one with removeWebhook before registering another.`, { limit: 'webhooks.maxPerConsumer', max: settings.maxPerConsumer });
      }
      const registration: Omit<WebhookRegistration, 'types'> = {
        id: randomUUID(),
        consumer: caller.consumer,
        roles: [...caller.roles],
        url: target,
        query: input.query,
        purpose: caller.purpose,
        caseNumber: caller.caseNumber,
        operator: caller.operator,
        ...(input.withSecret ? { secret: `whsec_${randomBytes(24).toString('base64')}` } : {}),
        createdAt: new Date().toISOString(),
      };
      // Admitted now, against the grants for this purpose: a selection it may not read is refused before anything is kept.
      const operation = await options.admitFor(caller, requestOf(registration as WebhookRegistration));
      const complete: WebhookRegistration = { ...registration, types: [...subscribedTypes(options.schema, operation.operation, operation.body.variables)].sort() };
      await registry.put(complete);
      standing.set(complete.id, operation);
      return complete;
    },
    async remove(caller, id) {
      const registration = (await registry.all()).find((r) => r.id === id && r.consumer === caller.consumer);
      if (!registration) return false;
      await registry.delete(id);
      standing.delete(id);
      return true;
    },
    async list(consumer) {
      return (await registry.all()).filter((r) => consumer === undefined || r.consumer === consumer);
    },
    async stop() {
      await dispatcher.stop(2000);
      await connections.close();
      await store.close();
    },
  };
}

/** The GraphQL side: registering, removing and listing the caller's webhooks (a signed caller only). */
export function createWebhookResolvers(webhooks: () => Webhooks | undefined): Record<string, Record<string, unknown>> {
  const callerOf = (ctx: RequestContext): Caller => {
    if (!ctx.caller) throw new HubError(HubErrorCode.FORBIDDEN, 'Webhooks are registered by a signed request of a consumer.');
    return ctx.caller;
  };
  const running = (): Webhooks => {
    const w = webhooks();
    if (!w) throw new HubError(HubErrorCode.FORBIDDEN, 'This hub delivers no webhooks.');
    return w;
  };
  const shown = ({ secret: _secret, ...rest }: WebhookRegistration): Omit<WebhookRegistration, 'secret'> => rest;
  return {
    Mutation: {
      async registerWebhook(_: unknown, args: { url: string; subscription: string; withSecret?: boolean }, ctx: RequestContext) {
        try {
          return await running().register(callerOf(ctx), { url: args.url, query: args.subscription, withSecret: args.withSecret === true });
        } catch (error) {
          // The allow-list's refusal names the problem; it is the caller's input, not an operator's fault.
          if (error instanceof TargetRefusedError || error instanceof PushInputError) throw new HubError(HubErrorCode.BAD_USER_INPUT, error.message);
          throw error;
        }
      },
      removeWebhook: (_: unknown, args: { id: string }, ctx: RequestContext) => running().remove(callerOf(ctx), args.id),
    },
    Query: {
      webhooks: async (_: unknown, _args: unknown, ctx: RequestContext) => (await running().list(callerOf(ctx).consumer)).map(shown),
    },
  };
}
