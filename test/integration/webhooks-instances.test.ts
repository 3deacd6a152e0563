/**
 * Registered webhooks from two hub processes sharing one Redis (docs/webhooks.md, "The queue"):
 * a real redis-server, the sandboxes in this process, hub processes started with `datarun serve`,
 * a real HTTP receiver on loopback that verifies every request per Standard Webhooks with the
 * hub's JWKS. Two webhooks of the tax bureau (two subscribers, each with its own lanes, one
 * registered on each instance) get enterprises registered and changed through the
 * market-regulation sandbox's routes.
 *
 * - With nothing failing, each event reaches each webhook exactly once, whichever instance sent
 *   it, in order per enterprise, and every delivery is a record of the shared access log.
 * - An instance killed (SIGKILL) while its deliveries are in flight loses none of them: the only
 *   instance running when the events were queued holds them (the receiver does not answer), a
 *   second instance is started, the first is killed, and the second takes the deliveries over
 *   after `webhooks.takeoverSeconds` with the same `webhook-id`, then sends the events queued
 *   behind them, in order.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDataRunClient, type DataRunClient } from '../../src/client';
import { generateSeed, startSandboxes, type SandboxSet } from '../../departments';
import { auditSubjectSecret } from '../../src/gateway/audit';
import { createRedisStore, verifyWebhook, type DeliveryStore } from '../../src/push';
import { createKeyStore, type KeyStore } from '../../src/seal';
import { createSharedState, type SharedState } from '../../src/state';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { connectorEnv } from '../support/hub';
import { WITH_DEPARTMENTS } from '../support/keys';
import { freshDatabase, startPostgresServer, type PostgresServer } from '../support/postgres';
import { eventually, startHubProcess, startRedisServer, type HubProcess, type RedisServer } from '../support/redis';

jest.setTimeout(Math.max(180_000, HANG_DEADLINE_MS));

const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QYKB-INST-1', operator: 'tax-0042' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0200', operator: 'auditor-1' };
const SELECTION = 'subscription { departmentEvents(types: [ENTERPRISE_REGISTERED, ENTERPRISE_STATUS_CHANGED]) { id type enterprise { creditCode name status } } }';
const REGISTER = 'mutation($url: String!, $s: String!) { registerWebhook(url: $url, subscription: $s) { id url types } }';
/** The two subscribers: two webhooks of the consumer that may register them, each on its own receiver path. */
const HOOKS = ['first', 'second'] as const;
type Hook = (typeof HOOKS)[number];

/** What every instance is configured with, besides where Redis, the departments and the index are. */
const CONFIG = {
  // Generous: these tests are about delivery, not about timeouts, and run on busy machines too.
  connectorTimeoutMs: 10_000,
  redis: { commandTimeoutMs: 5000, connectTimeoutMs: 10_000 },
  cache: { invalidationPollMs: 250 },
  audit: { checkpointEveryMs: 500 },
  webhooks: { allow: [{ url: 'http://127.0.0.1:*/hooks/*', allowPrivate: true }] },
};

/** One request the receiver got. */
interface Received {
  hook: Hook;
  webhookId: string;
  type: string;
  creditCode: string;
  requestId: string;
  /** Its signature verified against the hub's JWKS (checked when it arrived). */
  verified: boolean;
  /** Answered 204 as it arrived (a held request never counts as answered: its sender may be gone). */
  answered: boolean;
}

const dir = mkdtempSync(path.join(tmpdir(), 'datarun-webhook-instances-'));
const keysDir = path.join(dir, 'keys');
const auditDir = path.join(dir, 'audit');
const data = generateSeed({ seed: 1, size: 200 });
let redis: RedisServer;
let pg: PostgresServer;
let sandboxes: SandboxSet;
let keyStore: KeyStore;
let env: Record<string, string>;
let receiver: http.Server;
let receiverBase: string;
let jwks: { keys: unknown[] } | undefined;
const received: Received[] = [];
/** While set, requests are kept unanswered (deliveries in flight); `release` answers them. */
let holding = false;
const held: http.ServerResponse[] = [];
const hubs: HubProcess[] = [];
const webhookIds = new Map<Hook, string>();
let observerState: SharedState | undefined;
let observer: DeliveryStore | undefined;

/** Answers from now on, and answers the held requests (whose sender may be gone: then nothing happens). */
function release(): void {
  holding = false;
  for (const res of held.splice(0)) if (!res.destroyed) res.writeHead(204).end();
}

beforeAll(async () => {
  [redis, pg, sandboxes, keyStore] = await Promise.all([startRedisServer(), startPostgresServer(), startSandboxes(data), createKeyStore(keysDir, WITH_DEPARTMENTS)]);
  // Created once here: two processes creating it at the same moment would race.
  auditSubjectSecret(keysDir);
  env = { DATARUN_REDIS_URL: redis.url, ...connectorEnv(sandboxes.endpoints), DATARUN_AUDIT_INDEX_URL: await freshDatabase(pg) };
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      try {
        verifyWebhook(headers, body, { publicJwks: jwks as never });
        verified = true;
      } catch {
        verified = false;
      }
      let parsed: any = {};
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = {};
      }
      const entry: Received = {
        hook: (req.url ?? '').endsWith('/second') ? 'second' : 'first',
        webhookId: headers['webhook-id'] ?? '',
        type: String(parsed.type),
        creditCode: String(parsed.data?.data?.departmentEvents?.enterprise?.creditCode),
        requestId: String(parsed.requestId),
        verified,
        answered: !holding,
      };
      received.push(entry);
      if (holding) held.push(res);
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  // What is queued, read by a store of the same queue that never claims anything.
  observerState = createSharedState({ redis: { url: redis.url, commandTimeoutMs: 5000 }, rateLimits: () => undefined });
  expect(await observerState.waitUntilReady(HANG_DEADLINE_MS)).toBe(true);
  observer = createRedisStore({ state: observerState, name: 'webhooks', consumer: 'test-observer' });
}, Math.max(180_000, HANG_DEADLINE_MS));

afterAll(async () => {
  if (process.env.DATARUN_TEST_HUB_OUTPUT) for (const hub of hubs) process.stderr.write(`--- ${hub.instanceId}\n${hub.output()}\n`);
  release();
  await Promise.allSettled(hubs.map((hub) => hub.stop()));
  await observer?.close();
  await observerState?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await Promise.allSettled([sandboxes?.close(), redis?.stop(), pg?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function startHub(instanceId: string, webhooks: Record<string, unknown> = {}): Promise<HubProcess> {
  const config = { ...CONFIG, webhooks: { ...CONFIG.webhooks, ...webhooks } };
  return startHubProcess({ instanceId, keysDir, auditDir, env, config }).then((hub) => (hubs.push(hub), hub));
}

function client(hub: HubProcess, consumer: string): DataRunClient {
  return createDataRunClient({ hubUrl: hub.url, consumerId: consumer, keyFile: keyStore.privateKeyPath(consumer)! });
}

async function sandbox(route: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${sandboxes.sandboxes['market-regulation']!.url}/__sandbox/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return res.json();
}

/** A new enterprise (an ENTERPRISE_REGISTERED event), then a change of its status (ENTERPRISE_STATUS_CHANGED). */
async function registerAndChange(name: string): Promise<string> {
  const reply = await sandbox('enterprises', { name, kind: 'LIMITED_LIABILITY', legalRepIdNumber: data.persons[5]!.idNumber, registeredCapital: 500_000, address: '泰安市岱岳区长城路9号', industry: 'I65', scope: '信息技术服务' });
  const creditCode = reply.enterprise.creditCode as string;
  await sandbox('status-changes', { creditCode, status: 'ABNORMAL' });
  return creditCode;
}

const EVENT_TYPES = ['ENTERPRISE_REGISTERED', 'ENTERPRISE_STATUS_CHANGED'];

/** Every (webhook, enterprise, type) the enterprises should produce. */
function expectedOf(creditCodes: readonly string[]): string[] {
  return HOOKS.flatMap((hook) => creditCodes.flatMap((c) => EVENT_TYPES.map((type) => `${hook}|${c}|${type}`)));
}

const keyOf = (r: Received): string => `${r.hook}|${r.creditCode}|${r.type}`;

/** Per webhook and enterprise: its status change was sent only after its registration was acknowledged. */
function expectOrderPerSubject(requests: readonly Received[], creditCodes: readonly string[]): void {
  for (const hook of HOOKS) {
    for (const creditCode of creditCodes) {
      const mine = requests.filter((r) => r.hook === hook && r.creditCode === creditCode);
      const firstChange = mine.findIndex((r) => r.type === 'ENTERPRISE_STATUS_CHANGED');
      const registrationAnswered = mine.findIndex((r) => r.type === 'ENTERPRISE_REGISTERED' && r.answered);
      expect({ hook, creditCode, registrationAnswered: registrationAnswered >= 0, changeAfterIt: firstChange > registrationAnswered }).toEqual({ hook, creditCode, registrationAnswered: true, changeAfterIt: true });
    }
  }
}

/** The same event under one `webhook-id`, and one event per `webhook-id`, per webhook. */
function expectStableIds(requests: readonly Received[]): void {
  const idOf = new Map<string, string>();
  const eventOf = new Map<string, string>();
  for (const r of requests) {
    expect(idOf.get(keyOf(r)) ?? r.webhookId).toBe(r.webhookId);
    expect(eventOf.get(`${r.hook}|${r.webhookId}`) ?? keyOf(r)).toBe(keyOf(r));
    idOf.set(keyOf(r), r.webhookId);
    eventOf.set(`${r.hook}|${r.webhookId}`, keyOf(r));
  }
}

/** Every answered delivery to the webhooks is a granted record of the shared access log, found through `hub`. */
async function expectRecorded(hub: HubProcess, deliveries: readonly Received[]): Promise<void> {
  const auditor = client(hub, 'auditor');
  for (const hook of HOOKS) {
    const wanted = deliveries.filter((d) => d.hook === hook && d.answered).map((d) => d.requestId);
    let missing: string[] = wanted;
    await eventually(async () => {
      const reply = await auditor.query<any>('query($f: AccessLogFilter) { accessLog(filter: $f, first: 500) { edges { node { requestId correlationId consumer outcome receiptId } } } }', { f: { consumer: 'tax-bureau' } }, AUDIT);
      if (reply.errors) return false;
      const granted = new Set<string>(
        reply.data.accessLog.edges.map((e: any) => e.node).filter((n: any) => n.correlationId === webhookIds.get(hook) && n.outcome === 'GRANTED' && n.receiptId !== null).map((n: any) => n.requestId),
      );
      missing = wanted.filter((id) => !granted.has(id));
      return missing.length === 0;
    }, `the deliveries to the ${hook} webhook in the shared access log (missing ${missing.length})`, 60_000);
  }
}

describe('webhooks from two hub instances on one Redis', () => {
  it('deliver each event once per subscriber when nothing fails', async () => {
    const [a, b] = await Promise.all([startHub('hub-a'), startHub('hub-b')]);
    jwks = (await (await fetch(`${a.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    // Both instances publish the one webhook key of the shared keys directory.
    expect(await (await fetch(`${b.url}/.well-known/jwks.json`)).json()).toEqual(jwks);

    // Each registered on a different instance: the registry is shared.
    const registeredOn: Record<Hook, HubProcess> = { first: a, second: b };
    for (const hook of HOOKS) {
      const reply = await client(registeredOn[hook], 'tax-bureau').query<any>(REGISTER, { url: `${receiverBase}/${hook}`, s: SELECTION }, STARTUP);
      expect(reply.errors).toBeUndefined();
      expect(reply.data.registerWebhook.types).toEqual(EVENT_TYPES);
      webhookIds.set(hook, reply.data.registerWebhook.id);
    }
    // Each instance sees both registrations before the events come (its copy of the registry is refreshed every 2 s).
    for (const hub of [a, b]) {
      for (const hook of HOOKS) {
        await eventually(async () => ((await client(hub, 'tax-bureau').query<any>('{ webhooks { id } }', {}, STARTUP)).data?.webhooks ?? []).some((w: { id: string }) => w.id === webhookIds.get(hook)), `the ${hook} webhook listed on ${hub.instanceId}`);
      }
    }

    const creditCodes: string[] = [];
    for (let i = 0; i < 4; i++) creditCodes.push(await registerAndChange(`泰安双实例测试${i}有限公司`));
    const expected = expectedOf(creditCodes);
    const mine = (): Received[] => received.filter((r) => creditCodes.includes(r.creditCode));
    await eventually(() => {
      const got = new Set(mine().map(keyOf));
      return expected.every((k) => got.has(k));
    }, 'every event at every webhook');
    // Nothing left to send, and a little longer for a duplicate to show: the instances' poll cycles are a quarter of a second.
    await eventually(async () => (await observer!.pending()) === 0, 'an empty queue');
    const settledAt = Date.now();
    await eventually(() => Date.now() - settledAt > 3000, 'a few more poll cycles');

    const requests = mine();
    expect(requests.map(keyOf).sort()).toEqual([...expected].sort());
    expect(requests.every((r) => r.verified && r.answered)).toBe(true);
    expect(new Set(requests.map((r) => `${r.hook}|${r.webhookId}`)).size).toBe(expected.length);
    expect(requests.every((r) => /^market-regulation:/.test(r.webhookId))).toBe(true);
    expectStableIds(requests);
    expectOrderPerSubject(requests, creditCodes);
    await expectRecorded(a, requests);

    await Promise.all([a.stop(), b.stop()]);
  });

  it('lose nothing when an instance is killed mid-delivery: another takes its deliveries over under the same webhook-id', async () => {
    expect(webhookIds.size).toBe(2);
    await Promise.all(hubs.map((hub) => hub.stop()));
    // The only instance running while the events are queued and claimed: every delivery in flight is its own.
    const c = await startHub('hub-c', { takeoverSeconds: 2, timeoutMs: 60_000 });
    holding = true;
    const creditCodes: string[] = [];
    for (let i = 0; i < 3; i++) creditCodes.push(await registerAndChange(`泰安接管测试${i}有限公司`));
    const mine = (): Received[] => received.filter((r) => creditCodes.includes(r.creditCode));
    // Queued: each registration and the status change behind it, for both webhooks; held: the registrations, at the receiver.
    await eventually(async () => (await observer!.pending()) === creditCodes.length * 2 * HOOKS.length, 'every event queued for both webhooks');
    await eventually(() => mine().length === creditCodes.length * HOOKS.length, 'the registrations in flight to both webhooks');
    const inFlight = mine().map((r) => ({ ...r }));
    expect(inFlight.every((r) => r.type === 'ENTERPRISE_REGISTERED' && !r.answered)).toBe(true);

    const d = await startHub('hub-d', { takeoverSeconds: 2, timeoutMs: 60_000 });
    await c.kill();
    release();

    const expected = expectedOf(creditCodes);
    await eventually(() => {
      const answered = new Set(mine().filter((r) => r.answered).map(keyOf));
      return expected.every((k) => answered.has(k));
    }, 'every event answered at every webhook after the takeover');

    const requests = mine();
    expect(requests.every((r) => r.verified)).toBe(true);
    // The deliveries in flight when hub-c died were sent again by hub-d, each under the webhook-id it had.
    for (const r of inFlight) {
      const again = requests.filter((x) => x.hook === r.hook && x.webhookId === r.webhookId && x.answered);
      expect({ event: keyOf(r), sentAgain: again.length >= 1 }).toEqual({ event: keyOf(r), sentAgain: true });
    }
    expectStableIds(requests);
    expectOrderPerSubject(requests, creditCodes);
    await expectRecorded(d, requests);
    await eventually(async () => (await observer!.pending()) === 0, 'an empty queue');
    await d.stop();
  });
});
