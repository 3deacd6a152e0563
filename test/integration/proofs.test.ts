/**
 * Proofs 无证明 end to end through a signed hub over the sandboxes: the one-window hall issues a
 * 无欠税证明 with the citizen's consent; the proof verifies offline against the hub's JWKS and its
 * status list (GET /status/<list>); the department is asked even though the hub could have cached;
 * the issuance is in the access record the citizen's view reads; a statement that does not hold
 * issues nothing; a department event (new arrears) revokes the proof through the change feed.
 */
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { runProofIssue } from '../../src/cli/proof';
import { joinProofBundle, presentProof, splitProofBundle, statusAt, STATUS, verifyProof, verifyProofBundle, verifyStatusListToken } from '../../src/proofs';
import { createConsentSigner, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const PROOF = { purpose: 'PROOF_ISSUANCE', caseNumber: 'WZM-2026-000101', operator: 'hall-007' };
const ISSUED = '{ kind title department token asOf issuedAt expiresAt holderBinding statusList statusIndex reference }';
const ISSUE = `mutation Issue($kind: ProofKind!, $id: ID!) { issueProof(kind: $kind, idNumber: $id) ${ISSUED} }`;
const ISSUE_BOUND = `mutation Issue($kind: ProofKind!, $id: ID!, $key: String!) { issueProof(kind: $kind, idNumber: $id, holderKey: $key) ${ISSUED} }`;
const ISSUE_FOR_ENTERPRISE = `mutation Issue($kind: ProofKind!, $code: ID!) { issueProof(kind: $kind, creditCode: $code) ${ISSUED} }`;

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});

function consent(subject: string, purpose = PROOF.purpose): string {
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject, purpose, expiresAt: Date.now() + 600_000 });
}

/** A person registered with the tax administration without arrears. */
function taxpayerWithoutArrears(skip = 0): string {
  return hub.sandboxes.data.taxpayers.filter((t) => t.kind === 'PERSON' && t.arrears.length === 0)[skip]!.taxpayerId;
}

async function statusList(uri: string): Promise<string> {
  const res = await fetch(uri);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
  return res.text();
}

async function verify(token: string) {
  const jwks = await (await fetch(`${hub.url}/.well-known/jwks.json`)).json();
  return verifyProof(token, { keys: { jwks: jwks as never }, statusList: (uri) => statusList(uri), requireStatus: true });
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('proofs 无证明', () => {
  it('issues a 无欠税证明 under the tax seal key, asking the department, verifiable offline with its status', async () => {
    const id = taxpayerWithoutArrears();
    hub.resetSandboxes();
    const reply = await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_TAX_ARREARS', id }, { ...PROOF, consents: [consent(id)] });
    expect(reply.errors).toBeUndefined();
    const issued = reply.data.issueProof;
    expect(issued).toMatchObject({ kind: 'NO_TAX_ARREARS', department: 'tax', holderBinding: 'none', title: expect.stringContaining('无欠税证明') });
    expect(hub.calls().tax).toBeGreaterThanOrEqual(1);
    expect(issued.statusList).toBe(`${hub.url}/status/0`);
    const verified = await verify(issued.token);
    expect(verified).toMatchObject({ valid: true, kind: 'NO_TAX_ARREARS', department: 'tax', purpose: PROOF.purpose, status: 'VALID', disclosed: expect.objectContaining({ taxpayerId: id, hasArrears: false, registered: true }) });
    // Asked again at once: the department again (a proof states when the department answered).
    const before = hub.calls().tax;
    await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_TAX_ARREARS', id }, { ...PROOF, consents: [consent(id)] });
    expect(hub.calls().tax).toBeGreaterThan(before!);

    // The issuance is an access record, with the change it made, in the citizen's view too.
    const log = await hub.clientFor('auditor').query<any>('query($f: AccessLogFilter) { accessLog(filter: $f, first: 10) { edges { node { consumer purpose outcome changes { entity action kind reference statusList statusIndex } } } } }', { f: { caseNumber: PROOF.caseNumber } }, { purpose: 'AUDIT', caseNumber: 'SJ-2026-0300', operator: 'auditor-1' });
    const changes = log.data.accessLog.edges.flatMap((e: any) => e.node.changes);
    expect(changes).toContainEqual({ entity: 'proof', action: 'ISSUE', kind: 'NO_TAX_ARREARS', reference: issued.reference, statusList: issued.statusList, statusIndex: issued.statusIndex });
    const mine = await hub.clientFor('one-window-hall').query<any>('query($id: ID!) { dataAccesses(idNumber: $id, first: 20) { edges { node { consumer purpose } } } }', { id }, { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'CX-2026-0001', operator: 'hall-007', consents: [consent(id, 'CITIZEN_ACCESS_VIEW')] });
    expect(mine.errors).toBeUndefined();
    expect(mine.data.dataAccesses.edges.map((e: any) => e.node)).toContainEqual(expect.objectContaining({ consumer: 'one-window-hall', purpose: PROOF.purpose }));
  });

  it('binds a proof to the holder\'s key: presented with a key-binding JWT for the verifier\'s nonce, refused without or for another nonce', async () => {
    const id = taxpayerWithoutArrears(3);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const reply = await hub.clientFor('one-window-hall').query<any>(ISSUE_BOUND, { kind: 'NO_TAX_ARREARS', id, key: JSON.stringify(publicKey.export({ format: 'jwk' })) }, { ...PROOF, consents: [consent(id)] });
    expect(reply.errors).toBeUndefined();
    expect(reply.data.issueProof.holderBinding).toBe('cnf');
    const jwks = await (await fetch(`${hub.url}/.well-known/jwks.json`)).json();
    const presented = presentProof(reply.data.issueProof.token, { disclose: ['hasArrears'], holderKey: privateKey, nonce: 'n-4711', audience: 'bank-of-taian' });
    const options = { keys: { jwks: jwks as never }, statusList: (uri: string) => statusList(uri), expectedAudience: 'bank-of-taian' };
    expect(await verifyProof(presented, { ...options, expectedNonce: 'n-4711' })).toMatchObject({ valid: true, holderBound: true, disclosed: { hasArrears: false } });
    expect(await verifyProof(presented, { ...options, expectedNonce: 'n-other' })).toMatchObject({ valid: false, reason: 'WRONG_NONCE' });
    expect(await verifyProof(reply.data.issueProof.token, { ...options, expectedNonce: 'n-4711' })).toMatchObject({ valid: false, reason: 'MISSING_KEY_BINDING' });
    const bad = await hub.clientFor('one-window-hall').query<any>(ISSUE_BOUND, { kind: 'NO_TAX_ARREARS', id, key: '{"kty":"oct","k":"c2VjcmV0"}' }, { ...PROOF, consents: [consent(id)] });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('holderKey') });
  });

  it('refuses a holder key it could not bind to, saying why, and never issues such a proof unbound', async () => {
    const id = taxpayerWithoutArrears(4);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ format: 'jwk' });
    const offCurve = { ...pub, y: pub.x };
    const cases: [string, RegExp][] = [
      [JSON.stringify(offCurve), /its x and y are not a point on the curve/],
      [JSON.stringify(privateKey.export({ format: 'jwk' })), /holds a private part/],
      ['', /is not JSON/],
      ['{"kty":"OKP","crv":"Ed25519","x":"AAAA"}', /its x is not 32 bytes/],
    ];
    const before = hub.calls().tax;
    for (const [key, why] of cases) {
      const reply = await hub.clientFor('one-window-hall').query<any>(ISSUE_BOUND, { kind: 'NO_TAX_ARREARS', id, key }, { ...PROOF, consents: [consent(id)] });
      expect(reply.data?.issueProof ?? null).toBeNull();
      expect(reply.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'holderKey' }, message: expect.stringMatching(why) });
    }
    // Refused before the department is asked.
    expect(hub.calls().tax).toBe(before);
  });

  it('needs the citizen\'s consent, and issues nothing for a statement that does not hold', async () => {
    const id = taxpayerWithoutArrears(1);
    const refused = await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_TAX_ARREARS', id }, PROOF);
    expect(refused.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    const owing = hub.sandboxes.data.taxpayers.find((t) => t.arrears.length > 0)!;
    const person = /^\d{17}[\dX]$/.test(owing.taxpayerId);
    const notHeld = person
      ? await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_TAX_ARREARS', id: owing.taxpayerId }, { ...PROOF, consents: [consent(owing.taxpayerId)] })
      : await hub.clientFor('one-window-hall').query<any>(ISSUE_FOR_ENTERPRISE, { kind: 'NO_TAX_ARREARS', code: owing.taxpayerId }, PROOF);
    expect(notHeld.errors?.[0]?.extensions?.code).toBe('PROOF_NOT_ESTABLISHED');
    expect(notHeld.data).toBeNull();
    const wrongKind = await hub.clientFor('one-window-hall').query<any>(ISSUE_FOR_ENTERPRISE, { kind: 'NO_PROPERTY', code: hub.sandboxes.data.enterprises[0]!.creditCode }, PROOF);
    expect(wrongKind.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('is revoked when the tax administration records new arrears of the taxpayer (its change feed)', async () => {
    const id = taxpayerWithoutArrears(2);
    const reply = await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_TAX_ARREARS', id }, { ...PROOF, consents: [consent(id)] });
    expect(reply.errors).toBeUndefined();
    const { token } = reply.data.issueProof;
    expect(await verify(token)).toMatchObject({ valid: true, status: 'VALID' });
    const res = await fetch(`${hub.operatorUrl}/__sandbox/tax/arrears`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taxpayerId: id, taxType: 'PROPERTY', amount: 880.5, since: '2026-11-15' }) });
    expect(res.status).toBe(201);
    const revoked = await eventually(async () => {
      const v = await verify(token);
      return v.valid ? undefined : v;
    });
    expect(revoked).toMatchObject({ valid: false, reason: 'REVOKED' });
    // Its printable page is gone with it.
    expect((await fetch(`${hub.url}/p/${reply.data.issueProof.reference}`)).status).toBe(404);
  });

  it('revokes a 无房证明 when the registry transfers a unit to the person, and a 不动产登记信息 when a unit it lists is mortgaged', async () => {
    const { persons, properties } = hub.sandboxes.data;
    const owners = new Set(properties.flatMap((p) => p.owners.map((o) => o.ownerId)));
    const buyer = persons.find((p) => !owners.has(p.idNumber))!.idNumber;
    const none = await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'NO_PROPERTY', id: buyer }, { ...PROOF, consents: [consent(buyer)] });
    expect(none.errors).toBeUndefined();
    const owner = properties[3]!.owners.find((o) => o.kind === 'PERSON')!.ownerId;
    const record = await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind: 'PROPERTY_RECORD', id: owner }, { ...PROOF, consents: [consent(owner)] });
    expect(record.errors).toBeUndefined();
    expect(await verify(none.data.issueProof.token)).toMatchObject({ valid: true, disclosed: expect.objectContaining({ propertiesFound: 0 }) });
    const sandbox = (route: string, body: unknown) => fetch(`${hub.operatorUrl}/__sandbox/real-estate/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // A unit nobody's proof rests on goes to the buyer: the event's subject is the unit, the connector names the buyer.
    const unit = properties.find((p) => !p.owners.some((o) => o.ownerId === owner))!.unitNumber;
    expect((await sandbox('transfers', { unitNumber: unit, buyerId: buyer, price: 880_000 })).status).toBe(201);
    expect((await sandbox('mortgages', { unitNumber: properties[3]!.unitNumber, mortgagee: '泰安银行', amount: 500_000, endDate: '2046-01-01' })).status).toBe(201);
    for (const token of [none.data.issueProof.token, record.data.issueProof.token]) {
      const revoked = await eventually(async () => {
        const v = await verify(token);
        return v.valid ? undefined : v;
      });
      expect(revoked).toMatchObject({ valid: false, reason: 'REVOKED' });
    }
  });

  it('is issued by `datarun proof issue`, which prints the token and says what it proves, verified', async () => {
    const id = taxpayerWithoutArrears(4);
    let printed = '';
    let said = '';
    const options = { hub: hub.url, keysDir: hub.keysDir, kind: 'NO_TAX_ARREARS', idNumber: id, as: 'one-window-hall', purpose: 'PROOF_ISSUANCE', case: 'WZM-CLI-0001', operator: 'hall-001' };
    await expect(runProofIssue(options, (s) => (printed += s), (s) => (said += s))).resolves.toBe(0);
    expect(await verify(printed.trim())).toMatchObject({ valid: true, kind: 'NO_TAX_ARREARS' });
    expect(said).toMatch(/issued by tax as of .*verified: signature, disclosures and status \(VALID\)/s);
    await expect(runProofIssue({ ...options, creditCode: 'x' }, () => undefined, () => undefined)).rejects.toThrow('name exactly one subject');
    const owing = hub.sandboxes.data.taxpayers.find((t) => t.arrears.length > 0)!.taxpayerId;
    said = '';
    const person = /^\d{17}[\dX]$/.test(owing);
    const { idNumber: _id, ...rest } = options;
    await expect(runProofIssue(person ? { ...options, idNumber: owing } : { ...rest, creditCode: owing }, () => undefined, (s) => (said += s))).resolves.toBe(4);
    expect(said).toContain('not issued: PROOF_NOT_ESTABLISHED');
  });

  it('issues ENTERPRISE_GOOD_STANDING: market regulation\'s and tax\'s own proofs under the hub\'s envelope, verified offline, printed, and revoked with a part', async () => {
    const { enterprises, taxpayers } = hub.sandboxes.data;
    const withoutArrears = new Set(taxpayers.filter((t) => t.kind === 'ENTERPRISE' && t.arrears.length === 0).map((t) => t.taxpayerId));
    const code = enterprises.find((e) => e.status === 'ACTIVE' && e.abnormalOperations.every((a) => a.removedAt !== null) && withoutArrears.has(e.creditCode))!.creditCode;
    const BUNDLE = `mutation Issue($code: ID!) { issueProof(kind: ENTERPRISE_GOOD_STANDING, creditCode: $code) { kind title department token statusList statusIndex reference parts { kind department token } } }`;
    const reply = await hub.clientFor('one-window-hall').query<any>(BUNDLE, { code }, PROOF);
    expect(reply.errors).toBeUndefined();
    const issued = reply.data.issueProof;
    expect(issued).toMatchObject({ kind: 'ENTERPRISE_GOOD_STANDING', department: hub.gateway.keyStore.hubId, parts: [{ kind: 'ENTERPRISE_REGISTRATION', department: 'market-regulation' }, { kind: 'NO_TAX_ARREARS', department: 'tax' }] });
    const bundle = splitProofBundle(issued.token)!;
    expect(bundle.parts).toEqual(issued.parts.map((p: { token: string }) => p.token));

    // Offline: the JWKS and the status lists fetched once, then nothing from the hub.
    const jwks = await (await fetch(`${hub.url}/.well-known/jwks.json`)).json();
    const uris = [...new Set([issued.statusList, ...bundle.parts.map((p) => JSON.parse(Buffer.from(p.split('.')[1]!, 'base64url').toString()).status.status_list.uri as string)])];
    const lists = Object.fromEntries(await Promise.all(uris.map(async (uri) => [uri, await statusList(uri)] as const)));
    const options = { keys: { jwks: jwks as never }, statusList: lists, requireStatus: true };
    const verified = await verifyProofBundle(bundle.envelope, bundle.parts, options);
    expect(verified).toMatchObject({ valid: true, kind: 'ENTERPRISE_GOOD_STANDING', subject: code, purpose: 'PROOF_ISSUANCE', status: 'VALID' });
    expect(verified.valid && verified.parts.map((p) => [p.department, p.disclosed.creditCode ?? p.disclosed.taxpayerId])).toEqual([
      ['market-regulation', code],
      ['tax', code],
    ]);
    // The parts swapped, or one left out, do not make the bundle.
    expect(await verifyProofBundle(bundle.envelope, [...bundle.parts].reverse(), options)).toMatchObject({ valid: false, reason: 'PART_MISMATCH' });
    expect(await verifyProofBundle(bundle.envelope, bundle.parts.slice(0, 1), options)).toMatchObject({ valid: false, reason: 'PART_MISMATCH' });

    // Printed: the bundle's page names both parts; /verify reads the one-string form.
    const page = await (await fetch(`${hub.url}/p/${issued.reference}`)).text();
    expect(page).toContain('企业良好信用状态证明');
    expect(page).toContain('企业登记状态');
    expect(page).toContain('无欠税证明');
    const form = (proof: string) => fetch(`${hub.url}/verify`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ proof }).toString() });
    expect(await (await form(issued.token)).text()).toContain('证明有效');
    expect(await (await form(joinProofBundle(bundle.envelope, [...bundle.parts].reverse()))).text()).toContain('封套不符');

    // An enterprise that is not in operation gets nothing.
    const closed = enterprises.find((e) => e.status !== 'ACTIVE' && withoutArrears.has(e.creditCode)) ?? enterprises.find((e) => e.status !== 'ACTIVE')!;
    const refused = await hub.clientFor('one-window-hall').query<any>(BUNDLE, { code: closed.creditCode }, PROOF);
    expect(refused.data?.issueProof ?? null).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'PROOF_NOT_ESTABLISHED' } });
    expect(refused.errors?.[0]?.message).toContain('market-regulation');

    // New arrears at the tax administration revoke its part, and the envelope with it.
    const res = await fetch(`${hub.operatorUrl}/__sandbox/tax/arrears`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taxpayerId: code, taxType: 'VALUE_ADDED', amount: 12_345.6, since: '2026-11-20' }) });
    expect(res.status).toBe(201);
    // The part and then the envelope turn INVALID; once both have, the part is what a verifier names first.
    const revoked = await eventually(async () => {
      const v = await verifyProofBundle(bundle.envelope, bundle.parts, { ...options, statusList: (uri: string) => statusList(uri) });
      return !v.valid && v.reason === 'PART_INVALID' ? v : undefined;
    });
    expect(revoked).toMatchObject({ valid: false, reason: 'PART_INVALID', part: 1, partReason: 'REVOKED' });
    // The envelope's own entry follows (the same revocation, a moment later).
    await eventually(async () => {
      const list = verifyStatusListToken(await statusList(issued.statusList), { keys: { jwks: jwks as never }, expectedUri: issued.statusList });
      return list.valid && statusAt(list, issued.statusIndex) === STATUS.INVALID ? true : undefined;
    });
    expect((await fetch(`${hub.url}/p/${issued.reference}`)).status).toBe(404);
  });

  it('answers an unknown status list with 404', async () => {
    expect((await fetch(`${hub.url}/status/999`)).status).toBe(404);
    expect((await fetch(`${hub.url}/status/x`)).status).toBe(404);
  });
});
