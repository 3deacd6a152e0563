/**
 * Registered webhooks end to end: a signed hub over the sandboxes, a real HTTP receiver on
 * loopback (allowed by the operator's allow-list), registration by a signed mutation, changes
 * made through the market-regulation sandbox's routes. Each delivery verifies per Standard
 * Webhooks (v1a against the hub's JWKS, v1 with the registration's secret), carries only what the
 * grants allow, and is recorded; a receiver that is down gets every event afterwards, in order;
 * a target off the allow-list and a selection not granted are refused at registration. The push
 * opens the tax bureau's case (审管联动), which it claims and reports back on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/push';
import { startTestHub, type TestHub } from '../support/hub';

const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QYKB-HOOK-1', operator: 'tax-0042' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0100', operator: 'auditor-1' };
const SELECTION = 'subscription { departmentEvents(types: [ENTERPRISE_REGISTERED, ENTERPRISE_STATUS_CHANGED]) { id type enterprise { creditCode name status } } }';
const REGISTER = 'mutation($url: String!, $s: String!) { registerWebhook(url: $url, subscription: $s, withSecret: true) { id url types purpose secret } }';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let hub: TestHub;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
let failNext = 0;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end();
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/tax`;
  hub = await startTestHub({ security: 'signed', webhooks: { allow: [{ url: 'http://127.0.0.1:*/hooks/*', allowPrivate: true }], maxPerConsumer: 3 } });
});
afterAll(async () => {
  await hub?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function sandbox(route: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${hub.operatorUrl}/__sandbox/market-regulation/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return res.json();
}

async function registerEnterprise(name: string): Promise<string> {
  const reply = await sandbox('enterprises', { name, kind: 'LIMITED_LIABILITY', legalRepIdNumber: hub.sandboxes.data.persons[5]!.idNumber, registeredCapital: 500_000, address: '泰安市岱岳区长城路9号', industry: 'I65', scope: '信息技术服务' });
  return reply.enterprise.creditCode;
}

async function eventually(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('webhooks', () => {
  let webhookId: string;
  let secret: string;

  it('registers a webhook with a signed mutation, and refuses targets off the allow-list and selections not granted', async () => {
    const client = hub.clientFor('tax-bureau');
    const off = await client.query<any>(REGISTER, { url: 'http://10.1.2.3/hooks/tax', s: SELECTION }, STARTUP);
    expect(off.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // A target the URL parser would change silently, or one with a fragment, is refused: what is kept is what is called.
    for (const [url, why] of [[`${receiverUrl}\n`, /control character U\+000A/], [`${receiverUrl}#x`, /fragment/]] as const) {
      const refused = await client.query<any>(REGISTER, { url, s: SELECTION }, STARTUP);
      expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(why) });
    }
    const denied = await client.query<any>(REGISTER, { url: receiverUrl, s: 'subscription { departmentEvents(types: [PENALTY_IMPOSED]) { id enterprise { penalties { amount } } } }' }, STARTUP);
    expect(denied.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    const ok = await client.query<any>(REGISTER, { url: receiverUrl, s: SELECTION }, STARTUP);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.registerWebhook).toMatchObject({ url: receiverUrl, types: ['ENTERPRISE_REGISTERED', 'ENTERPRISE_STATUS_CHANGED'], purpose: 'ENTERPRISE_STARTUP' });
    expect(ok.data.registerWebhook.secret).toMatch(/^whsec_/);
    webhookId = ok.data.registerWebhook.id;
    secret = ok.data.registerWebhook.secret;
    // The secret is shown once: the listing leaves it out.
    const listed = await client.query<any>('{ webhooks { id secret } }', {}, STARTUP);
    expect(listed.data.webhooks).toEqual([{ id: webhookId, secret: null }]);
  });

  it('delivers a new enterprise signed per Standard Webhooks, verifiable with the JWKS and the secret, and recorded', async () => {
    const creditCode = await registerEnterprise('泰安钩子科技有限公司');
    await eventually(() => received.some((r) => r.body.includes(creditCode)));
    const delivery = received.find((r) => r.body.includes(creditCode))!;
    const jwks = (await (await fetch(`${hub.url}/.well-known/jwks.json`)).json()) as { keys: { kty: string }[] };
    expect(jwks.keys.some((k) => k.kty === 'OKP')).toBe(true);
    const headers = Object.fromEntries(Object.entries(delivery.headers).map(([k, v]) => [k, String(v)]));
    expect(() => verifyWebhook(headers, delivery.body, { publicJwks: jwks as never })).not.toThrow();
    expect(() => verifyWebhook(headers, delivery.body, { secret })).not.toThrow();
    const body = JSON.parse(delivery.body);
    expect(body.type).toBe('ENTERPRISE_REGISTERED');
    expect(body.data.data.departmentEvents.enterprise).toEqual({ creditCode, name: '泰安钩子科技有限公司', status: 'ACTIVE' });
    expect(headers['webhook-id']).toMatch(/^market-regulation:/);

    // 审管联动: the push opened the tax bureau's case; it claims it and reports back.
    const FEEDBACK = { purpose: 'CASE_FEEDBACK', caseNumber: 'SG-2026-0001', operator: 'tax-0042' };
    const tax = hub.clientFor('tax-bureau');
    const cases = await tax.query<any>('{ cases { id eventId eventType state subject { kind id } } }', {}, FEEDBACK);
    expect(cases.errors).toBeUndefined();
    const pushed = cases.data.cases.find((c: { eventId: string }) => c.eventId === headers['webhook-id']);
    expect(pushed).toMatchObject({ eventType: 'ENTERPRISE_REGISTERED', state: 'PUSHED', subject: { kind: 'ENTERPRISE', id: creditCode } });
    const claimed = await tax.query<any>('mutation($id: ID!) { claimCase(caseId: $id) { state } }', { id: pushed.id }, FEEDBACK);
    expect(claimed.data?.claimCase?.state).toBe('CLAIMED');
    const reported = await tax.query<any>('mutation($id: ID!) { reportCase(caseId: $id, outcome: INSPECTED_COMPLIANT, note: "税务登记已确认") { state } }', { id: pushed.id }, FEEDBACK);
    expect(reported.data?.reportCase?.state).toBe('REPORTED');

    const log = await hub.clientFor('auditor').query<any>('query($f: AccessLogFilter) { accessLog(filter: $f, first: 20) { edges { node { correlationId consumer outcome receiptId } } } }', { f: { consumer: 'tax-bureau', caseNumber: STARTUP.caseNumber } }, AUDIT);
    const deliveries = log.data.accessLog.edges.map((e: any) => e.node).filter((n: any) => n.correlationId === webhookId);
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
    expect(deliveries.every((d: any) => d.outcome === 'GRANTED' && d.receiptId !== null)).toBe(true);

    // The auditor sees each step's state change in the record of the request that made it.
    const CHANGES = 'query($f: AccessLogFilter) { accessLog(filter: $f, first: 50) { edges { node { correlationId operator changes { entity caseId eventId department action by from to late outcome noteHash } } } } }';
    const opened = await hub.clientFor('auditor').query<any>(CHANGES, { f: { consumer: 'tax-bureau', caseNumber: STARTUP.caseNumber } }, AUDIT);
    const openings = opened.data.accessLog.edges.flatMap((e: any) => e.node.changes).filter((c: any) => c.caseId === pushed.id);
    expect(openings).toEqual([{ entity: 'case', caseId: pushed.id, eventId: headers['webhook-id'], department: 'tax-bureau', action: 'OPEN', by: 'hub', from: null, to: 'PUSHED', late: false, outcome: null, noteHash: null }]);
    const steps = await hub.clientFor('auditor').query<any>(CHANGES, { f: { consumer: 'tax-bureau', caseNumber: FEEDBACK.caseNumber } }, AUDIT);
    const changes = steps.data.accessLog.edges.flatMap((e: any) => e.node.changes).filter((c: any) => c.caseId === pushed.id);
    expect(changes.map((c: any) => [c.action, c.by, c.from, c.to, c.outcome])).toEqual(
      expect.arrayContaining([
        ['CLAIM', 'tax-0042', 'PUSHED', 'CLAIMED', null],
        ['REPORT', 'tax-0042', 'CLAIMED', 'REPORTED', 'INSPECTED_COMPLIANT'],
      ]),
    );
    expect(changes.find((c: any) => c.action === 'REPORT').noteHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('gets every event to a receiver that was failing, in order per subject, duplicates under the same webhook-id', async () => {
    const creditCode = await registerEnterprise('泰安顺序测试有限公司');
    await eventually(() => received.some((r) => r.body.includes(creditCode)));
    failNext = 2;
    await sandbox('status-changes', { creditCode, status: 'ABNORMAL' });
    await sandbox('status-changes', { creditCode, status: 'ACTIVE' });
    await sandbox('status-changes', { creditCode, status: 'REVOKED' });
    await eventually(() => received.filter((r) => r.body.includes(creditCode) && JSON.parse(r.body).type === 'ENTERPRISE_STATUS_CHANGED').length >= 3);
    const changes = received.filter((r) => r.body.includes(creditCode) && JSON.parse(r.body).type === 'ENTERPRISE_STATUS_CHANGED');
    const ids = changes.map((r) => String(r.headers['webhook-id']));
    // In the order they happened (the ids of one department's feed grow), each delivered once after the failures.
    expect([...ids].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]))).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
  });

  it('holds a consumer to webhooks.maxPerConsumer registrations, and admits one again after a removal', async () => {
    const client = hub.clientFor('tax-bureau');
    const register = (n: number) => client.query<any>(REGISTER, { url: `${receiverUrl}-extra-${n}`, s: SELECTION }, STARTUP);
    // One is held since the first test: two more reach the bound of 3.
    const kept = [await register(1), await register(2)];
    expect(kept.map((r) => r.errors)).toEqual([undefined, undefined]);
    const over = await register(3);
    expect(over.errors?.[0]).toMatchObject({
      message: 'This consumer already holds 3 webhooks, the most it may (webhooks.maxPerConsumer): remove one with removeWebhook before registering another.',
      extensions: { code: 'BAD_USER_INPUT', limit: 'webhooks.maxPerConsumer', max: 3 },
    });
    expect((await client.query<any>('{ webhooks { id } }', {}, STARTUP)).data.webhooks).toHaveLength(3);
    const removed = await client.query<any>('mutation($id: ID!) { removeWebhook(id: $id) }', { id: kept[1]!.data.registerWebhook.id }, STARTUP);
    expect(removed.data.removeWebhook).toBe(true);
    expect((await register(4)).errors).toBeUndefined();
  });
});
