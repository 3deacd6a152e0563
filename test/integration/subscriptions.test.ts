/**
 * Subscriptions end to end over real sockets: a signed hub over the sandboxes, a stream opened by
 * the client's signed request (GraphQL over SSE, graphql-sse framing), changes made through the
 * market-regulation sandbox's routes, and each delivery checked as a query's reply would be:
 * only granted fields, masks applied, the department's seal, the receipt, an access record per
 * delivery linked to the opening. A field the subscriber is not granted refuses the stream before
 * it starts; a grant that ends mid-stream ends it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_POLICY } from '../../src/policy';
import type { DataRunResponse } from '../../src/client';
import { startTestHub, type TestHub } from '../support/hub';

const STARTUP = { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'QYKB-2026-0001', operator: 'tax-0042' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-0099', operator: 'auditor-1' };
const NEW_ENTERPRISES = `subscription NewEnterprises {
  departmentEvents(types: [ENTERPRISE_REGISTERED, LICENCE_ISSUED]) {
    id type department occurredAt subjectKind details { name value }
    enterprise { creditCode name status legalRepresentative { idNumber name } seal { token } }
  }
}`;

let hub: TestHub;

/** The demo policy with social-security-bureau's grants changed: `edit` gets its consumer entry. */
function policyFile(edit: (consumer: { grants: Record<string, unknown>[] }) => void): string {
  const policy = JSON.parse(JSON.stringify(DEMO_POLICY));
  edit(policy.consumers.find((c: { id: string }) => c.id === 'social-security-bureau'));
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'datarun-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

async function registerEnterprise(name: string): Promise<string> {
  const legalRep = hub.sandboxes.data.persons[3]!.idNumber;
  const res = await fetch(`${hub.operatorUrl}/__sandbox/market-regulation/enterprises`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, kind: 'LIMITED_LIABILITY', legalRepIdNumber: legalRep, registeredCapital: 1_000_000, address: '泰安市泰山区东岳大街1号', industry: 'I65', scope: '软件开发' }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { enterprise: { creditCode: string } };
  return body.enterprise.creditCode;
}

async function changeStatus(creditCode: string, status: string): Promise<void> {
  const res = await fetch(`${hub.operatorUrl}/__sandbox/market-regulation/status-changes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ creditCode, status }) });
  expect(res.status).toBe(201);
}

/** The next delivery of a stream (the iterator is kept open). */
async function next<T>(stream: AsyncIterator<DataRunResponse<T>>): Promise<DataRunResponse<T>> {
  const { value, done } = await stream.next();
  if (done) throw new Error('the stream ended');
  return value;
}

async function auditorReads(filter: Record<string, unknown>): Promise<any[]> {
  const reply = await hub.clientFor('auditor').query<any>(
    'query($f: AccessLogFilter) { accessLog(filter: $f, first: 20) { edges { node { requestId correlationId consumer purpose outcome errorCodes receiptId subjects { kind } fields { department } } } } }',
    { f: filter },
    AUDIT,
  );
  expect(reply.errors).toBeUndefined();
  return reply.data.accessLog.edges.map((e: { node: unknown }) => e.node);
}

describe('subscriptions to department events', () => {
  beforeAll(async () => {
    // social-security-bureau also sees legal representatives, their identity numbers masked.
    const masked = policyFile((ss) => ss.grants.push({ fields: ['Enterprise.legalRepresentative', 'Person.idNumber', 'Person.name'], purposes: ['ENTERPRISE_STARTUP'], mask: ['ID_NUMBER'] }));
    hub = await startTestHub({ security: 'signed', policyFile: masked });
  });
  afterAll(async () => {
    await hub?.close();
  });
  afterEach(async () => {
    // A stream the client left is ended by the hub when its connection closes.
    await eventually(() => hub.gateway.openSubscriptions === 0);
  });

  it('pushes a new enterprise to the tax bureau, sealed, with a receipt and an access record per delivery', async () => {
    const client = hub.clientFor('tax-bureau');
    const stream = client.subscribe<any>(NEW_ENTERPRISES, {}, STARTUP);
    // The stream is open once the first read is pending and the hub has a listener for it.
    const first = next(stream);
    await eventually(() => hub.gateway.openSubscriptions > 0);
    const creditCode = await registerEnterprise('泰安云数科技有限公司');
    const delivery = await first;
    expect(delivery.errors).toBeUndefined();
    const event = delivery.data.departmentEvents;
    expect(event).toMatchObject({ type: 'ENTERPRISE_REGISTERED', department: 'market-regulation', subjectKind: 'ENTERPRISE' });
    expect(event.id).toMatch(/^market-regulation:/);
    expect(event.enterprise).toMatchObject({ creditCode, name: '泰安云数科技有限公司', status: 'ACTIVE' });
    expect(event.details.map((d: { name: string }) => d.name)).toContain('licenceNumber');
    // The department's seal over the record, and the hub's receipt over this very delivery.
    expect((await client.verifySeal(event.enterprise.seal.token)).valid).toBe(true);
    expect((await client.verifyReply(delivery)).valid).toBe(true);

    // A status change is not asked for: the next delivery is the next registration.
    await changeStatus(creditCode, 'ABNORMAL');
    const other = await registerEnterprise('泰安链办服务有限公司');
    const second = await next(stream);
    expect(second.data.departmentEvents.enterprise.creditCode).toBe(other);
    await stream.return?.(undefined);

    // The opening and each delivery are records of their own; the deliveries name the opening and the subject.
    const records = await auditorReads({ consumer: 'tax-bureau', purpose: 'ENTERPRISE_STARTUP', caseNumber: STARTUP.caseNumber });
    const deliveries = records.filter((r) => r.receiptId !== null);
    const openings = records.filter((r) => r.receiptId === null);
    expect(openings).toHaveLength(1);
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries) {
      expect(d.correlationId).toBe(openings[0].requestId);
      expect(d.outcome).toBe('GRANTED');
      expect(d.subjects.map((s: { kind: string }) => s.kind)).toContain('ENTERPRISE');
      expect(d.fields.map((f: { department: string }) => f.department)).toContain('market-regulation');
    }
  });

  it('masks what the grant masks in every delivery', async () => {
    const stream = hub.clientFor('social-security-bureau').subscribe<any>(NEW_ENTERPRISES.replace(' seal { token }', ''), {}, { ...STARTUP, operator: 'ss-7' });
    const first = next(stream);
    await eventually(() => hub.gateway.openSubscriptions > 0);
    await registerEnterprise('泰安社保测试有限公司');
    const delivery = await first;
    expect(delivery.errors).toBeUndefined();
    const rep = delivery.data.departmentEvents.enterprise.legalRepresentative;
    expect(rep.idNumber).not.toBe(hub.sandboxes.data.persons[3]!.idNumber);
    expect(rep.idNumber).toMatch(/\*/);
    await stream.return?.(undefined);
  });

  it('refuses a subscription selecting a field not granted for its purpose before it starts, and records the refusal', async () => {
    const denied = `subscription { departmentEvents(types: [PENALTY_IMPOSED]) { id enterprise { creditCode penalties { amount } } } }`;
    const stream = hub.clientFor('tax-bureau').subscribe<any>(denied, {}, { ...STARTUP, caseNumber: 'QYKB-DENIED-1' });
    await expect(next(stream)).rejects.toMatchObject({ code: 'ERR_SUBSCRIPTION_REFUSED', message: expect.stringMatching(/POLICY_DENIED/) });
    // Refused before it started: it never listened.
    expect(hub.gateway.openSubscriptions).toBe(0);
    const records = await auditorReads({ consumer: 'tax-bureau', caseNumber: 'QYKB-DENIED-1' });
    expect(records).toHaveLength(1);
    expect(records[0].outcome).toBe('DENIED');
  });

  it('refuses a subscription sent to /graphql, and a query sent to /graphql/stream', async () => {
    const asQuery = await hub.clientFor('tax-bureau').query<any>(NEW_ENTERPRISES, {}, STARTUP);
    expect(asQuery.status).toBe(400);
    expect(asQuery.errors?.[0]?.message).toMatch(/graphql\/stream/);
    const stream = hub.clientFor('tax-bureau').subscribe<any>('{ enterprise(creditCode: "91370900MA3C5X0R3K") { name } }', {}, STARTUP);
    await expect(next(stream)).rejects.toMatchObject({ code: 'ERR_SUBSCRIPTION_REFUSED' });
    const plain = await fetch(`${hub.url}/graphql/stream`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{}' });
    expect(plain.status).toBe(406);
  });

});

describe('a subscription whose grant ends', () => {
  let soon: number;
  beforeAll(async () => {
    // A grant that ends 45 s from now: long enough for a busy machine to start the hub, open the stream and deliver once.
    soon = Date.now() + 45_000;
    const ending = policyFile((ss) => (ss.grants[ss.grants.length - 1]!.validTo = new Date(soon).toISOString().replace(/\.\d+Z$/, 'Z')));
    hub = await startTestHub({ security: 'signed', policyFile: ending });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('ends the stream with POLICY_DENIED at the next event after the grant ended', async () => {
    expect(Date.now()).toBeLessThan(soon); // else the machine was too slow to start the hub before the grant ended
    const stream = hub.clientFor('social-security-bureau').subscribe<any>('subscription { departmentEvents(types: [ENTERPRISE_REGISTERED]) { id enterprise { name } } }', {}, { ...STARTUP, caseNumber: 'QYKB-ENDING-1', operator: 'ss-7' });
    const first = next(stream);
    await eventually(() => hub.gateway.openSubscriptions > 0);
    await registerEnterprise('泰安授权到期有限公司');
    expect((await first).errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, soon - Date.now() + 1500)));
    await registerEnterprise('泰安授权之后有限公司');
    const last = await next(stream);
    expect(last.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    expect(last.data ?? null).toBeNull();
    expect((await stream.next()).done).toBe(true);
  }, 120_000);
});

async function eventually(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
