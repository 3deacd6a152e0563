/**
 * Requests on behalf of another hub's consumer (跨域通办, docs/federation.md), on the serving hub:
 * a peer hub (`taian-hub`, role `federation-peer`) signs the `obo` claim; the record names the
 * original consumer and the federation request id, the auditor finds it by that id, the citizen
 * sees the access as made through the other hub; a non-peer's `obo` and a replay are refused, and
 * the log still verifies.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { verifyAuditLog } from '../../src/audit';
import { propertyTransferExample } from '../../src/cli/examples';
import { auditVerifier } from '../../src/gateway/audit';
import { createConsentSigner, createRequestSigner, type OnBehalfOf, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'TA-BDC-2026-0042', operator: '泰安窗口-刘洋' };
const AUDIT = { purpose: 'AUDIT', caseNumber: 'SJ-2026-FED-1', operator: '审计员-赵强' };
const VIEW = { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-2026-FED-1', operator: '窗口-陈静' };
const RECORD = 'seq requestId consumer operator purpose caseNumber outcome errorCodes onBehalfOf { hub consumer request } federationRequestId';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});

function privateJwk(owner: string): PrivateJwk {
  return JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(owner)!, 'utf8')) as PrivateJwk;
}

function onBehalfOf(federation = randomUUID()): OnBehalfOf {
  return { hub: 'taian', consumer: 'real-estate-centre', request: `taian-req-${randomUUID()}`, federation };
}

async function auditorReads(filter: Record<string, unknown>): Promise<any[]> {
  const reply = await hub.clientFor('auditor').query<any>(`query($f: AccessLogFilter) { accessLog(filter: $f, first: 100) { edges { node { ${RECORD} } } } }`, { f: filter }, AUDIT);
  expect(reply.errors).toBeUndefined();
  return reply.data.accessLog.edges.map((e: any) => e.node);
}

function post(body: string, authorization: string): Promise<Response> {
  return fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
}

describe('a request on behalf of another hub\'s consumer', () => {
  it('is served for the peer hub, recorded with the original consumer and the federation id, found by the auditor and shown to the citizen via the other hub', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const obo = onBehalfOf();
    const reply = await hub.clientFor('taian-hub').query<any>('query P($b: ID!) { person(idNumber: $b) { name } }', { b: v.buyer }, { ...TRANSFER, operationName: 'P', onBehalfOf: obo });
    expect(reply.errors).toBeUndefined();
    expect(reply.status).toBe(200);
    expect(typeof reply.data.person.name).toBe('string');
    const verified = await hub.clientFor('taian-hub').verifyReply(reply);
    if (!verified.valid) throw new Error(`receipt did not verify: ${verified.reason}`);

    // The auditor finds every record of the federation request by its id: this one.
    const records = await auditorReads({ federationRequestId: obo.federation });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      seq: verified.receipt.auditSeq,
      consumer: 'taian-hub',
      operator: TRANSFER.operator,
      purpose: 'PROPERTY_TRANSFER',
      caseNumber: TRANSFER.caseNumber,
      outcome: 'GRANTED',
      onBehalfOf: { hub: 'taian', consumer: 'real-estate-centre', request: obo.request },
      federationRequestId: obo.federation,
    });
    // Another federation id finds nothing; a record made here directly has neither field.
    expect(await auditorReads({ federationRequestId: randomUUID() })).toEqual([]);
    const auditorsOwn = (await auditorReads({ caseNumber: AUDIT.caseNumber }))[0];
    expect(auditorsOwn).toMatchObject({ onBehalfOf: null, federationRequestId: null });
    const empty = await hub.clientFor('auditor').query<any>('query($f: AccessLogFilter) { accessLog(filter: $f) { edges { node { seq } } } }', { f: { federationRequestId: '' } }, AUDIT);
    // An empty id is an error naming it, never the whole log.
    expect(empty.data?.accessLog ?? null).toBeNull();
    expect(empty.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(empty.errors![0]!.message).toContain('federationRequestId');

    // The citizen sees the access as made through the other hub, by the consumer there.
    const consent = createConsentSigner({ issuer: 'citizen-identity', privateJwk: privateJwk('citizen-identity') }).sign({ subject: v.buyer, purpose: 'CITIZEN_ACCESS_VIEW', expiresAt: Date.now() + 600_000 });
    const view = await hub.clientFor('one-window-hall').query<any>('query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { consumer via { hub consumer } purpose caseNumber outcome } } } }', { id: v.buyer }, { ...VIEW, consents: [consent] });
    expect(view.errors).toBeUndefined();
    const nodes = view.data.dataAccesses.edges.map((e: any) => e.node);
    expect(nodes.find((n: any) => n.caseNumber === TRANSFER.caseNumber)).toEqual({
      consumer: 'taian-hub',
      via: { hub: 'taian', consumer: 'real-estate-centre' },
      purpose: 'PROPERTY_TRANSFER',
      caseNumber: TRANSFER.caseNumber,
      outcome: 'GRANTED',
    });
    // Accesses made here directly show no other hub.
    expect(nodes.filter((n: any) => n.caseNumber !== TRANSFER.caseNumber).every((n: any) => n.via === null)).toBe(true);
  });

  it('is decided by the peer hub\'s own grants: what taian-hub may not read is refused, whoever it asks for', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const reply = await hub.clientFor('taian-hub').query<any>('query($b: ID!) { person(idNumber: $b) { socialInsurance { scheme } } }', { b: v.buyer }, { ...TRANSFER, caseNumber: 'TA-DENIED-1', onBehalfOf: onBehalfOf() });
    expect(reply.status).toBe(403);
    expect(reply.errors![0]!.extensions!.code).toBe('POLICY_DENIED');
    const [record] = await auditorReads({ caseNumber: 'TA-DENIED-1' });
    expect(record).toMatchObject({ consumer: 'taian-hub', outcome: 'DENIED', onBehalfOf: { hub: 'taian', consumer: 'real-estate-centre' } });
  });

  it('is refused from a consumer that is not a peer hub, and recorded with it', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const obo = onBehalfOf();
    const reply = await hub.clientFor('real-estate-centre').query<any>('query($b: ID!) { person(idNumber: $b) { name } }', { b: v.buyer }, { ...TRANSFER, caseNumber: 'TA-NOT-PEER-1', onBehalfOf: { ...obo, consumer: 'tax-bureau' } });
    expect(reply.status).toBe(403);
    expect(reply.data ?? null).toBeNull();
    expect(reply.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', reason: 'OBO_NOT_ALLOWED' });
    expect(reply.errors![0]!.message).toContain('federation-peer');
    const [record] = await auditorReads({ federationRequestId: obo.federation });
    expect(record).toMatchObject({ consumer: 'real-estate-centre', caseNumber: 'TA-NOT-PEER-1', outcome: 'DENIED', errorCodes: ['OBO_NOT_ALLOWED', 'POLICY_DENIED'] });
  });

  it('refuses a malformed obo claim as UNAUTHENTICATED naming the member', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const signer = createRequestSigner({ consumerId: 'taian-hub', privateJwk: privateJwk('taian-hub') });
    // The signer refuses to sign it; a token made by hand with it is refused by the hub.
    expect(() => signer.authorization(body, { ...TRANSFER, onBehalfOf: { ...onBehalfOf(), hub: 'Tai An' } })).toThrow(/onBehalfOf\.hub must be a kebab-case id/);
    const token = signer.sign(body, { ...TRANSFER, onBehalfOf: onBehalfOf() });
    const [h, p] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    payload.obo.request = 'a b';
    // Its signature is no longer checked: the claim is refused first, by its shape.
    const reply = await post(body, `DatarunRequest ${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${token.split('.')[2]}`);
    expect(reply.status).toBe(401);
    const json = (await reply.json()) as any;
    expect(json.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'MALFORMED', claim: 'obo.request' });
  });

  it('refuses the same signed token sent twice, and a token whose obo was changed', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const body = JSON.stringify({ query: 'query($b: ID!) { person(idNumber: $b) { name } }', variables: { b: v.buyer } });
    const signer = createRequestSigner({ consumerId: 'taian-hub', privateJwk: privateJwk('taian-hub') });
    const obo = onBehalfOf();
    const authorization = signer.authorization(body, { ...TRANSFER, caseNumber: 'TA-REPLAY-1', onBehalfOf: obo });
    expect((await post(body, authorization)).status).toBe(200);
    const replayed = await post(body, authorization);
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as any).errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REPLAYED' });

    // Another original consumer in a fresh token's claim, its signature kept: BAD_SIGNATURE.
    const fresh = signer.sign(body, { ...TRANSFER, caseNumber: 'TA-TAMPER-1', onBehalfOf: onBehalfOf() });
    const [h, p, s] = fresh.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    payload.obo.consumer = 'civil-affairs';
    const tampered = await post(body, `DatarunRequest ${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`);
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as any).errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'BAD_SIGNATURE' });

    // Both records of the replayed token share its federation id: the served one and the refusal.
    const records = await auditorReads({ federationRequestId: obo.federation });
    expect(records.map((r) => r.outcome).sort()).toEqual(['DENIED', 'GRANTED']);
    expect(records.find((r) => r.outcome === 'DENIED').errorCodes).toContain('REPLAYED');
  });

  it('leaves a log that verifies, the new fields under the chain hash', async () => {
    await hub.gateway.audit!.checkpoint();
    const report = await verifyAuditLog({ dir: path.join(hub.keysDir, 'audit'), verify: auditVerifier({ keyStore: hub.gateway.keyStore }) });
    expect(report).toMatchObject({ ok: true });
  });
});
