/**
 * 跨域通办 between two hubs in this process, over real sockets: hub A (Tai'an) puts hub B's
 * (Heze's) `person` and `property` behind its own as `hezePerson` and `hezeProperty`. A signed
 * query at A mixes A's own fields with B's; A asks B in one signed request as B's consumer, B's
 * departments' seals reach A's consumer and verify against B's keys (A withholds the disclosures
 * its masks change, and signs nothing); B down gives A's fields and a coded error naming B for
 * B's; B's policy refusing A gives POLICY_DENIED naming B, for B's fields only.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runFederationSnapshot } from '../../src/cli/federation';
import { DEMO_POLICY } from '../../src/policy';
import { createConsentSigner, createFederationStatementSigner, createKeyStore, DEMO_OWNERS, FEDERATION_STATEMENT_PATH, rotateKey, verifySeal, type Jwks, type PrivateJwk } from '../../src/seal';
import { PEER_GRANTS_CASE } from '../../src/gateway/federation/peer-connector';
import { CROSS_CITY_TEST_QUERY, LINKED_ACCESS_LOG_QUERY } from '../support/federation';
import { startTestHub, type TestHub } from '../support/hub';

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-FED-001', operator: 'clerk-7' };
let a: TestHub;
let b: TestHub;
let dir: string;
let proxy: http.Server;
/** The requests A sent to B, as they went through the recording proxy between them. */
const sent: { authorization: string; body: string }[] = [];

/** B's coordinates A's look at B's grants is told are granted, though B does not grant them to A. */
const STALE_GRANTS = ['Person.providentFund', 'FundAccount.loans', 'FundLoan.status'];

/** Where the proxy in front of B sends requests: B's URL (a restarted B listens on another port). */
let target: string;
/** When set, the body of B's federation statement as the proxy serves it (a statement B did not sign). */
let statementOverride: string | undefined;
/** How many times the proxy served `statementOverride`. */
let overridesServed = 0;

/** A proxy in front of B (A's connector and A's trust list reach B through it) that keeps a copy of each request (to replay one). */
async function recordingProxy(): Promise<string> {
  proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST') sent.push({ authorization: String(req.headers.authorization), body });
      try {
        if (statementOverride !== undefined && req.url === FEDERATION_STATEMENT_PATH) {
          overridesServed++;
          res.writeHead(200, { 'content-type': 'application/jwt' });
          res.end(statementOverride);
          return;
        }
        const answer = await fetch(`${target}${req.url}`, { method: req.method!, headers: { 'content-type': 'application/json', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) }, ...(req.method === 'POST' ? { body } : {}) });
        let text = await answer.text();
        // A's look at B's grants sees the fund account's loans granted, which B's policy does not grant:
        // as if B had ended that grant since A's check (B's refusal then comes late, from B itself).
        if (body.includes('DatarunPeerGrants')) {
          const reply = JSON.parse(text) as { data?: { myGrants?: { fields?: unknown[] } } };
          reply.data?.myGrants?.fields?.push(...STALE_GRANTS.map((coordinate) => ({ coordinate, purpose: 'PROPERTY_TRANSFER' })));
          text = JSON.stringify(reply);
        }
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(text);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

/** A's policy: the demo policy, and the real-estate centre may read B's persons for property transfers. */
function policyOfA(): string {
  const policy = JSON.parse(JSON.stringify(DEMO_POLICY)) as { consumers: { id: string; grants: { fields: string[]; purposes?: string[] }[] }[] };
  const centre = policy.consumers.find((c) => c.id === 'real-estate-centre')!;
  centre.grants.push({ fields: ['Query.hezePerson', 'HezePerson.idNumber', 'HezePerson.name', 'HezePerson.taxRecords', 'HezeTaxpayer', 'HezeTaxPayment'], purposes: ['PROPERTY_TRANSFER'] });
  // A grants what B does not grant the centre (the fund account): B's refusal is B's to give.
  centre.grants.push({ fields: ['HezePerson.providentFund', 'HezeFundAccount.status', 'HezeFundAccount.loans', 'HezeFundLoan.status'], purposes: ['PROPERTY_TRANSFER'] });
  const file = path.join(dir, 'policy-a.json');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

/** A keys directory whose trust list names the hub `hubId` (the demo parties otherwise). */
const keysOf = (hubId: string) => async (dir: string) => {
  await createKeyStore(dir, { hubId, owners: DEMO_OWNERS.map((o) => (o.kind === 'hub' ? { ...o, id: hubId } : o)) });
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'datarun-federation-'));
  b = await startTestHub({ security: 'signed', prepareKeys: keysOf('heze') });
  target = b.url;
  const bThroughProxy = await recordingProxy();
  const schemaFile = path.join(dir, 'heze.graphql');
  // A's operator takes the snapshot of B's graph from B's operator listener (`datarun federation snapshot`).
  await runFederationSnapshot({ operatorUrl: b.operatorUrl, out: schemaFile, report: () => undefined });
  a = await startTestHub({
    security: 'signed',
    prepareKeys: keysOf('taian'),
    // A pins B's federation root (B's operator gives its thumbprint out of band).
    federationPeers: { heze: { url: bThroughProxy, root: b.gateway.keyStore.federationRoot()!.thumbprint } },
    // B's statement fetched again at once for a seal under a key A has not seen (B rotated), not after the default 30 s.
    federationRefetchIntervalSec: 0,
    policyFile: policyOfA(),
    connectors: {
      heze: {
        type: 'hub',
        url: `${bThroughProxy}/graphql`,
        hub: b.gateway.keyStore.hubId,
        // A is B's consumer "taian-hub" (a federation peer); its key is B's demo key for it.
        consumer: 'taian-hub',
        keyFile: b.gateway.keyStore.privateKeyPath('taian-hub')!,
        prefix: 'Heze',
        fields: ['person', 'property'],
        schemaFile,
      },
    },
  });
}, 240_000);
afterAll(async () => {
  proxy?.close();
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The access records an auditor of `hub` finds. */
async function records(hub: TestHub, filter: Record<string, unknown>): Promise<any[]> {
  const reply = await hub.clientFor('auditor').query<any>(
    LINKED_ACCESS_LOG_QUERY,
    { f: filter },
    { purpose: 'AUDIT', caseNumber: 'SJ-2026-FED', operator: 'auditor-1' },
  );
  expect(reply.errors).toBeUndefined();
  return reply.data.accessLog.edges.map((e: { node: unknown }) => e.node);
}

const QUERY = CROSS_CITY_TEST_QUERY;

describe('跨域通办: hub A puts hub B\'s persons behind its own', () => {
  it('answers A\'s and B\'s fields in one reply; B\'s seal passes through and verifies against B\'s keys', async () => {
    const unit = a.sandboxes.data.properties[0]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const reply = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, TRANSFER);
    expect(reply.errors).toBeUndefined();
    expect(reply.data.property.unitNumber).toBe(unit);
    const direct = await b.clientFor('real-estate-centre').query<any>(
      'query($id: ID!) { person(idNumber: $id) { idNumber name taxRecords { hasArrears payments(taxType: DEED) { voucherNumber amount } } } }',
      { id: seller },
      TRANSFER,
    );
    expect(direct.errors).toBeUndefined();
    const { seal, ...taxRecords } = reply.data.seller.taxRecords;
    // B masks the identity number for the Tai'an hub; otherwise what B's centre would read itself.
    expect(reply.data.seller.idNumber).toMatch(/\*/);
    expect({ ...reply.data.seller, idNumber: seller, taxRecords }).toEqual(direct.data.person);
    expect(seal.issuer).toBe('tax');
    const verified = verifySeal(seal.token, { keyStore: b.gateway.keyStore });
    expect(verified).toMatchObject({ valid: true, issuer: 'tax' });
    // A's keys do not know B's department keys: a seal A had made would verify there.
    expect(verifySeal(seal.token, { keyStore: a.gateway.keyStore })).toMatchObject({ valid: false });

    // Both logs: A's record and B's share one federation id; B's names A, its request and the consumer at A.
    const mine = await records(a, { caseNumber: TRANSFER.caseNumber });
    expect(mine).toHaveLength(1);
    const fid = mine[0].federationRequestId as string;
    expect(fid).toMatch(/^taian:/);
    expect(mine[0].fields.map((f: { department: string }) => f.department)).toEqual(expect.arrayContaining(['heze', 'real-estate']));
    // B's record of the request.
    const theirs = await records(b, { federationRequestId: fid });
    expect(theirs).toHaveLength(1);
    expect(theirs[0]).toMatchObject({ consumer: 'taian-hub', purpose: 'PROPERTY_TRANSFER', caseNumber: TRANSFER.caseNumber, operator: TRANSFER.operator, onBehalfOf: { hub: 'taian', consumer: 'real-estate-centre', request: mine[0].requestId } });
  });

  it('asks B\'s grants as A itself: B\'s record of the look names A, no consumer at A and no case', async () => {
    const looks = await records(b, { caseNumber: PEER_GRANTS_CASE });
    expect(looks).toEqual([
      expect.objectContaining({ consumer: 'taian-hub', purpose: 'PROPERTY_TRANSFER', caseNumber: PEER_GRANTS_CASE, operator: 'taian', onBehalfOf: null, federationRequestId: null, fields: [] }),
    ]);
    // The look went signed without an obo claim: it serves every consumer of A asking for the purpose.
    const look = sent.find((r) => r.body.includes('DatarunPeerGrants'))!;
    const claims = JSON.parse(Buffer.from(look.authorization.replace(/^DatarunRequest /, '').split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({ iss: 'taian-hub', purpose: 'PROPERTY_TRANSFER', case: PEER_GRANTS_CASE, operator: 'taian' });
    expect(claims.obo).toBeUndefined();
  });

  it('is refused by B when A\'s signed request is replayed, or its on-behalf-of claim changed', async () => {
    expect(sent.length).toBeGreaterThan(0);
    const { authorization, body } = sent.find((r) => !r.body.includes('DatarunPeerGrants'))!;
    const replayed = await fetch(`${b.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED', reason: 'REPLAYED' } }] });
    // The token names its on-behalf-of claim under the signature: another consumer at A cannot be put there.
    const [h, p, sig] = authorization.replace(/^DatarunRequest /, '').split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    expect(claims.obo).toMatchObject({ hub: 'taian', consumer: 'real-estate-centre' });
    const forged = Buffer.from(JSON.stringify({ ...claims, jti: `${claims.jti}x`, obo: { ...claims.obo, consumer: 'tax-bureau' } })).toString('base64url');
    const tampered = await fetch(`${b.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `DatarunRequest ${h}.${forged}.${sig}` }, body });
    expect(tampered.status).toBe(401);
  });

  it('refuses at A, without asking B, a field B does not grant A (B\'s myGrants); A\'s fields and B\'s other fields are answered', async () => {
    const unit = a.sandboxes.data.properties[1]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const before = sent.length;
    const reply = await a.clientFor('real-estate-centre').query<any>(
      'query($unit: ID!, $seller: ID!) { property(unitNumber: $unit) { unitNumber } seller: hezePerson(idNumber: $seller) { name providentFund { status } } again: hezePerson(idNumber: $seller) { name } }',
      { unit, seller },
      { ...TRANSFER, caseNumber: 'BDC-2026-FED-002' },
    );
    expect(reply.data.property.unitNumber).toBe(unit);
    expect(reply.data.seller).toBeNull();
    expect(reply.data.again).toMatchObject({ name: expect.any(String) });
    expect(reply.errors).toHaveLength(1);
    expect(reply.errors![0]).toMatchObject({ path: ['seller'], extensions: { code: 'POLICY_DENIED', hub: 'heze', denied: ['FundAccount.status'] } });
    expect(reply.errors![0]!.message).toContain('peer hub heze');
    // B was asked for its grants (once a minute per purpose) and for the granted field, never for the refused one.
    expect(sent.slice(before).map((r) => r.body).filter((b) => b.includes('providentFund'))).toEqual([]);
  });

  it('answers A\'s fields and POLICY_DENIED naming B, for B\'s fields only, when B refuses what A\'s look at its grants allowed', async () => {
    const unit = a.sandboxes.data.properties[3]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const before = sent.length;
    const reply = await a.clientFor('real-estate-centre').query<any>(
      'query($unit: ID!, $seller: ID!) { property(unitNumber: $unit) { unitNumber } seller: hezePerson(idNumber: $seller) { name providentFund { loans { status } } } }',
      { unit, seller },
      { ...TRANSFER, caseNumber: 'BDC-2026-FED-004' },
    );
    expect(reply.data.property.unitNumber).toBe(unit);
    expect(reply.data.seller).toBeNull();
    expect(reply.errors).toEqual([expect.objectContaining({ path: ['seller'], extensions: expect.objectContaining({ code: 'POLICY_DENIED', hub: 'heze' }) })]);
    expect(reply.errors![0]!.message).toContain('peer hub heze');
    // This time B was asked, and refused.
    expect(sent.slice(before).some((r) => r.body.includes('providentFund'))).toBe(true);
  });

  it('shows the citizen the access on both hubs: at A by A\'s consumer from B\'s departments, at B through A', async () => {
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const view = async (hub: TestHub) => {
      const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
      const consent = createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject: seller, purpose: 'CITIZEN_ACCESS_VIEW', expiresAt: Date.now() + 600_000 });
      const reply = await hub.clientFor('one-window-hall').query<any>(
        'query($id: ID!) { dataAccesses(idNumber: $id, first: 100) { edges { node { consumer via { hub consumer } caseNumber departments } } } }',
        { id: seller },
        { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YCSL-2026-FED', operator: 'window-3', consents: [consent] },
      );
      expect(reply.errors).toBeUndefined();
      return reply.data.dataAccesses.edges.map((e: { node: any }) => e.node).filter((n: any) => n.caseNumber === TRANSFER.caseNumber);
    };
    expect(await view(a)).toEqual([expect.objectContaining({ consumer: 'real-estate-centre', via: null, departments: expect.arrayContaining(['heze']) })]);
    expect(await view(b)).toEqual(expect.arrayContaining([expect.objectContaining({ consumer: 'taian-hub', via: { hub: 'taian', consumer: 'real-estate-centre' } })]));
  });

  it('goes on across B\'s rotation: A takes B\'s new statement, signed by B\'s root, for a seal under B\'s new key; a statement another root signed is refused', async () => {
    const unit = a.sandboxes.data.properties[4]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const before = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-005' });
    expect(before.errors).toBeUndefined();
    const oldSeal = before.data.seller.taxRecords.seal;
    const root = b.gateway.keyStore.federationRoot()!.thumbprint;

    // B rotates the seal key of the department A reads (tax) and restarts on the same keys (its log stays with the B that ran).
    const saved = path.join(dir, 'b-keys');
    const keyFiles = new Set(['trust.json', 'jwks.json', 'federation-root.json', 'private']);
    cpSync(b.keysDir, saved, { recursive: true, filter: (source) => source === b.keysDir || keyFiles.has(path.relative(b.keysDir, source).split(path.sep)[0]!) });
    const rotated = await rotateKey(saved, 'tax', { use: 'seal' });
    await b.close();
    b = await startTestHub({ security: 'signed', prepareKeys: async (keys) => cpSync(saved, keys, { recursive: true }) });
    target = b.url;
    expect(b.gateway.keyStore.federationRoot()!.thumbprint).toBe(root);

    const after = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-006' });
    expect(after.errors).toBeUndefined();
    expect(after.data.property.unitNumber).toBe(unit);
    const newSeal = after.data.seller.taxRecords.seal;
    expect(newSeal).toMatchObject({ issuer: 'tax', keyId: rotated.created[0] });
    expect(newSeal.keyId).not.toBe(oldSeal.keyId);
    // Under B's new key, which A took only from B's new statement (the one it held does not have it).
    expect(verifySeal(newSeal.token, { keyStore: b.gateway.keyStore })).toMatchObject({ valid: true, issuer: 'tax', keyId: rotated.created[0] });
    const held = readFileSync(path.join(a.keysDir, 'peers', 'heze.federation.jwt'), 'utf8');
    expect(JSON.parse(Buffer.from(held.split('.')[1]!, 'base64url').toString('utf8')).jwks.keys.map((k: { kid: string }) => k.kid)).toContain(rotated.created[0]);

    // B's statement signed by a root A did not pin (served where B's is): refused, and B's fields answer an error naming B, not data.
    const other = await createKeyStore(path.join(dir, 'other-keys'), { hubId: 'heze', owners: DEMO_OWNERS.map((o) => (o.kind === 'hub' ? { ...o, id: 'heze' } : o)) });
    await rotateKey(saved, 'tax', { use: 'seal' });
    await b.close();
    b = await startTestHub({ security: 'signed', prepareKeys: async (keys) => cpSync(saved, keys, { recursive: true }) });
    target = b.url;
    // The statement is of B's hub id and B's current keys, only signed by another root.
    statementOverride = createFederationStatementSigner({ keyStore: other }).statement(b.gateway.publicJwks() as Jwks);
    try {
      const refused = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-007' });
      expect(refused.data.property.unitNumber).toBe(unit);
      expect(refused.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UPSTREAM_INVALID_RESPONSE' }) })]);
      expect(refused.errors![0]!.message).toContain('heze');
      // B's tax record is not served: its seal cannot be verified against keys signed by B's root.
      expect(refused.errors![0]!.path).toEqual(['seller', 'taxRecords']);
      expect(refused.data.seller).toEqual({ idNumber: expect.stringMatching(/\*/), name: expect.any(String), taxRecords: null });
      // A asked for B's statement again (a key it had not seen), refused it and kept the one it held, which lacks the key.
      expect(overridesServed).toBeGreaterThan(0);
      expect(refused.errors![0]!.message).toMatch(/^peer hub heze \(heze\): a Taxpayer record came with a seal that does not verify against the peer hub's keys \(UNKNOWN_KEY/);
      // The same when A's caller does not select the seal: every record of B is checked against its seal.
      const unselected = await a.clientFor('real-estate-centre').query<any>(QUERY.replace(' seal { issuer keyId token }', ''), { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-008' });
      expect(unselected.data.seller.taxRecords).toBeNull();
      expect(unselected.errors).toEqual([expect.objectContaining({ path: ['seller', 'taxRecords'], extensions: expect.objectContaining({ code: 'UPSTREAM_INVALID_RESPONSE', hub: 'heze' }) })]);
    } finally {
      statementOverride = undefined;
    }
  });

  it('answers A\'s fields and CONNECTOR_UNAVAILABLE naming B when B is down', async () => {
    await b.server.close();
    const unit = a.sandboxes.data.properties[2]!.unitNumber;
    const seller = b.sandboxes.data.taxpayers.find((t) => t.kind === 'PERSON')!.taxpayerId;
    const reply = await a.clientFor('real-estate-centre').query<any>(QUERY, { unit, seller }, { ...TRANSFER, caseNumber: 'BDC-2026-FED-003' });
    expect(reply.data.property.unitNumber).toBe(unit);
    expect(reply.data.seller).toBeNull();
    expect(reply.errors).toEqual([expect.objectContaining({ path: ['seller'], extensions: expect.objectContaining({ code: 'CONNECTOR_UNAVAILABLE' }) })]);
    expect(reply.errors![0]!.message).toContain('heze');
  });

});
