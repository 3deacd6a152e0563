import { readFileSync } from 'node:fs';
import { LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY, livingAllowanceExample, propertyTransferExample } from '../../src/cli/examples';
import { createConsentSigner, createRequestSigner, verifySeal, type PrivateJwk } from '../../src/seal';
import { runQuery } from '../../src/cli/query';
import { canonicalLivingAllowance, expectedLivingAllowance, expectedPropertyTransfer } from '../support/expected';
import { startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});
beforeEach(() => hub.resetSandboxes());

const TRANSFER = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-2026-000123', operator: '窗口-张敏' };
const ALLOWANCE = { purpose: 'LIVING_ALLOWANCE', caseNumber: 'MZ-2026-004567', operator: '低保专干-李华' };

const SEALED_TRANSFER_QUERY = PROPERTY_TRANSFER_QUERY.replace(
  'transfers { date price from { ...Party } to { ...Party } }',
  'transfers { date price from { ...Party } to { ...Party } }\n    seal { issuer keyId algorithm issuedAt recordType token }',
).replace(
  'payments(taxType: DEED) { voucherNumber amount paidAt property { unitNumber } }',
  'payments(taxType: DEED) { voucherNumber amount paidAt property { unitNumber } seal { issuer token } }',
);

function privateJwk(consumer: string): PrivateJwk {
  return JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(consumer)!, 'utf8')) as PrivateJwk;
}

async function jwks() {
  return (await (await fetch(`${hub.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
}

function noCalls() {
  return { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 };
}

describe('the secure path: signed request, policy, seals, receipt', () => {
  it('answers the property-transfer query of the real-estate centre with the seeded data, sealed, with a receipt that verifies', async () => {
    const variables = propertyTransferExample(hub.sandboxes.data);
    const client = hub.clientFor('real-estate-centre');
    const reply = await client.query<any>(SEALED_TRANSFER_QUERY, variables, TRANSFER);
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();

    const { seal, ...property } = reply.data.property;
    const payments = reply.data.buyer.taxRecords.payments.map(({ seal: _s, ...p }: any) => p);
    const expected = expectedPropertyTransfer(hub.sandboxes.data, variables);
    expect({ ...reply.data, property, buyer: { ...reply.data.buyer, taxRecords: { ...reply.data.buyer.taxRecords, payments } } }).toEqual(expected);

    // The receipt binds this query, these variables and exactly this data.
    expect(await client.verifyReply(reply)).toMatchObject({ valid: true });
    expect(reply.receipt).toBeDefined();

    // The unit's seal is the real-estate department's, verifiable offline from the published JWKS.
    expect(seal).toMatchObject({ issuer: 'real-estate', algorithm: 'ES256', recordType: 'RealEstateUnit' });
    const keys = await jwks();
    expect(keys.keys.map((k) => k.kid)).toContain(seal.keyId);
    const verified = verifySeal(seal.token, { jwks: keys as never });
    expect(verified).toMatchObject({ valid: true, issuer: 'real-estate', keyId: seal.keyId });
    // The seal's subject is a pseudonym: the unit number is disclosed only as a field the reply shows.
    const subject = (verified as { subject: string }).subject;
    expect(subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(subject).not.toContain(variables.unitNumber);
    // It discloses the fields the reply shows in full, and nothing the reply does not show.
    const disclosed = (verified as { disclosed: Record<string, unknown> }).disclosed;
    // (seizures is shown in full: an empty list; transfers is not: the reply leaves out transferNumber.)
    expect(Object.keys(disclosed).sort()).toEqual(['address', 'area', 'certificateNumber', 'owners', 'seizures', 'unitNumber', 'usage']);
    expect(disclosed.unitNumber).toBe(variables.unitNumber);
    expect(disclosed).not.toHaveProperty('transfers');
    expect(disclosed.address).toBe(property.address);
    expect(disclosed).not.toHaveProperty('registeredAt');
    expect(disclosed).not.toHaveProperty('mortgages'); // selected only in part: withheld

    // Each deed-tax payment carries the tax department's own seal.
    const paymentSeal = reply.data.buyer.taxRecords.payments[0].seal;
    expect(paymentSeal.issuer).toBe('tax');
    expect(verifySeal(paymentSeal.token, { jwks: keys as never })).toMatchObject({ valid: true, issuer: 'tax', recordType: 'TaxPayment' });
  });

  it('checks a seal through the verifySeal query, and names why a tampered one fails', async () => {
    const variables = propertyTransferExample(hub.sandboxes.data);
    const client = hub.clientFor('real-estate-centre');
    const { data } = await client.query<any>('query($u: ID!) { property(unitNumber: $u) { address area seal { token } } }', { u: variables.unitNumber }, TRANSFER);
    const token: string = data.property.seal.token;
    const check = await client.query<any>('query($t: String!) { verifySeal(token: $t) { valid reason issuer recordId disclosed { name value } } }', { t: token }, TRANSFER);
    expect(check.data.verifySeal).toEqual({
      valid: true,
      reason: null,
      issuer: 'real-estate',
      recordId: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      disclosed: [
        { name: 'address', value: JSON.stringify(data.property.address) },
        { name: 'area', value: JSON.stringify(data.property.area) },
      ],
    });
    const [jwt, ...rest] = token.split('~');
    const [h, p, s] = jwt!.split('.');
    const forged = [`${h}.${p}.${s!.slice(0, -4)}AAAA`, ...rest].join('~');
    const bad = await client.query<any>('query($t: String!) { verifySeal(token: $t) { valid reason } }', { t: forged }, TRANSFER);
    expect(bad.data.verifySeal).toEqual({ valid: false, reason: 'BAD_SIGNATURE' });
  });
});

describe('authentication', () => {
  const QUERY = '{ __typename }';

  it('refuses an unsigned request with 401 and executes nothing', async () => {
    const reply = await hub.query('{ person(idNumber: "11010519491231002X") { name } }');
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toBe('DatarunRequest error="invalid_token"');
    expect(reply.errors).toEqual([{ message: 'request token is missing', extensions: { code: 'UNAUTHENTICATED', reason: 'MISSING' } }]);
    expect(hub.calls()).toEqual(noCalls());
  });

  it('refuses a body that is not the one signed, and a replayed token', async () => {
    const signer = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: privateJwk('real-estate-centre') });
    const body = JSON.stringify({ query: QUERY });
    const authorization = signer.authorization(body, TRANSFER);
    const post = (b: string) => fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: b });

    const tampered = await post(JSON.stringify({ query: '{ person(idNumber: "11010519491231002X") { name } }' }));
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as any).errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'BODY_MISMATCH' });

    expect((await post(body)).status).toBe(200);
    const replayed = await post(body);
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as any).errors[0]).toEqual({ message: 'request token has already been used', extensions: { code: 'UNAUTHENTICATED', reason: 'REPLAYED' } });
  });

  it('publishes the seal and receipt keys, never a private member', async () => {
    const res = await fetch(`${hub.url}/.well-known/jwks.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).not.toMatch(/"d"\s*:/);
    const owners = (JSON.parse(text) as { keys: { datarun: { owner: string; use: string } }[] }).keys.map((k) => `${k.datarun.owner}/${k.datarun.use}`);
    expect(owners).toEqual(expect.arrayContaining(['real-estate/seal', 'social-security/seal', 'tax/seal', 'market-regulation/seal']));
    expect(owners.some((o) => o.endsWith('/receipt'))).toBe(true);
  });
});

describe('the sharing policy over HTTP', () => {
  it('refuses an operation with a field outside the grants, listing every denied coordinate, before any department is called', async () => {
    const variables = propertyTransferExample(hub.sandboxes.data);
    const reply = await hub
      .clientFor('real-estate-centre')
      .query<any>('query($b: ID!) { buyer: person(idNumber: $b) { name socialInsurance { contributions { amount } } p: enterprises { name } } }', { b: variables.buyer }, TRANSFER);
    expect(reply.status).toBe(403);
    expect(reply.data).toBeUndefined();
    expect(reply.errors![0]!.extensions).toMatchObject({
      code: 'POLICY_DENIED',
      denied: ['Contribution.amount', 'Person.enterprises', 'Person.socialInsurance', 'SocialInsurance.contributions'],
    });
    expect(hub.calls()).toEqual(noCalls());
  });

  it('refuses a purpose the consumer holds no grant for', async () => {
    const variables = propertyTransferExample(hub.sandboxes.data);
    const reply = await hub.clientFor('real-estate-centre').query<any>('query($u: ID!) { property(unitNumber: $u) { address } }', { u: variables.unitNumber }, { ...TRANSFER, purpose: 'LIVING_ALLOWANCE' });
    expect(reply.status).toBe(403);
    expect(reply.errors![0]!.extensions).toMatchObject({ code: 'POLICY_DENIED', denied: ['Property.address', 'Query.property'] });
  });

  it('lets the auditor read no department data at all', async () => {
    const reply = await hub.clientFor('auditor').query<any>('{ person(idNumber: "11010519491231002X") { name } }', undefined, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'SJ-1', operator: 'a' });
    expect(reply.status).toBe(403);
    expect(hub.calls()).toEqual(noCalls());
  });

  it('answers the catalogue and the caller’s own grants', async () => {
    const reply = await hub.clientFor('civil-affairs').query<any>('{ myGrants(purpose: "LIVING_ALLOWANCE") { consumer fields { coordinate masked } } catalog(department: "tax") { coordinate class } }', undefined, ALLOWANCE);
    expect(reply.errors).toBeUndefined();
    expect(reply.data.myGrants.consumer).toBe('civil-affairs');
    expect(reply.data.myGrants.fields).toEqual(expect.arrayContaining([{ coordinate: 'Property.address', masked: true }]));
    expect(reply.data.catalog).toEqual(expect.arrayContaining([{ coordinate: 'Property.deedTaxPayments', class: 'CONDITIONAL' }]));
  });
});

describe('consent and masking for the living-allowance check', () => {
  function consents(family: string[], purpose = 'LIVING_ALLOWANCE', expiresAt = Date.now() + 3_600_000, issuedAt = Date.now(), options: { issuer?: string; once?: boolean } = {}): string[] {
    const issuer = options.issuer ?? 'citizen-identity';
    const signer = createConsentSigner({ issuer, privateJwk: privateJwk(issuer) });
    return family.map((subject) => signer.sign({ subject, purpose, expiresAt, ...(options.once ? { once: true } : {}) }, issuedAt));
  }

  const reasons = (reply: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
    ((reply.errors![0]!.extensions!.missingConsent as { reason: string }[]) ?? []).map((m) => m.reason);

  it('checks 50 persons with the housing provident fund: one call to the fund for the whole list, its records under its own seal', async () => {
    const data = hub.sandboxes.data;
    const holders = new Map(data.fundAccounts.map((a) => [a.idNumber, a]));
    const family = data.persons.slice(0, 50).map((p) => p.idNumber);
    expect(family.filter((id) => holders.has(id)).length).toBeGreaterThan(5);
    const client = hub.clientFor('civil-affairs');
    const query = 'query($family: [ID!]!) { people(idNumbers: $family) { idNumber providentFund { status balance contributions { period personalAmount } seal { issuer recordType token } } } }';
    const reply = await client.query<any>(query, { family }, { ...ALLOWANCE, consents: consents(family) });
    expect(reply.errors).toBeUndefined();
    expect(hub.calls()['housing-fund']).toBe(1);
    for (const person of reply.data.people) {
      const account = holders.get(person.idNumber);
      if (!account) {
        expect(person.providentFund).toBeNull();
        continue;
      }
      expect(person.providentFund).toMatchObject({ status: account.status, balance: account.balance, contributions: account.contributions.map((c) => ({ period: c.period, personalAmount: c.personalAmount })) });
      expect(person.providentFund.seal).toMatchObject({ issuer: 'housing-fund', recordType: 'FundAccount' });
      const seal = await client.verifySeal(person.providentFund.seal.token);
      expect(seal).toMatchObject({ valid: true, issuer: 'housing-fund' });
    }
    expect((await client.verifyReply(reply)).valid).toBe(true);
    // The account number is not granted for this purpose: asked for, the whole query is refused before the fund is called.
    hub.resetSandboxes();
    const denied = await client.query<any>('query($family: [ID!]!) { people(idNumbers: $family) { providentFund { accountNumber } } }', { family }, { ...ALLOWANCE, consents: consents(family) });
    expect(denied.errors?.[0]?.extensions?.code).toBe('POLICY_DENIED');
    expect(hub.calls()['housing-fund']).toBe(0);
  });

  it('takes a one-time consent once: the same consents sent again are refused (used), over HTTP', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const client = hub.clientFor('civil-affairs');
    const once = consents(family, 'LIVING_ALLOWANCE', Date.now() + 600_000, Date.now(), { once: true });
    const first = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: once });
    expect(first.status).toBe(200);
    expect(first.errors).toBeUndefined();
    const second = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: once });
    expect(second.status).toBe(403);
    expect(second.errors![0]!.extensions!.code).toBe('POLICY_DENIED');
    expect(reasons(second)).toEqual(family.map(() => 'used'));
  });

  it('refuses a consent that lives longer than 24 hours, and one the consumer signed itself', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const client = hub.clientFor('civil-affairs');
    const now = Date.now();
    const atBound = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: consents(family, 'LIVING_ALLOWANCE', now + 86_400_000, now) });
    expect(atBound.status).toBe(200);
    const tenYears = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: consents(family, 'LIVING_ALLOWANCE', now + 3650 * 86_400_000) });
    expect(tenYears.status).toBe(403);
    expect(reasons(tenYears)).toEqual(family.map(() => 'lifetime-too-long'));
    // The one-window hall reading a citizen's accesses with a consent it signed itself.
    const self = await hub.clientFor('one-window-hall').query<any>(
      'query($id: ID!) { dataAccesses(idNumber: $id) { edges { node { time consumer } } } }',
      { id: family[0] },
      { purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-2026-0100', operator: '窗口-陈静', consents: consents([family[0]!], 'CITIZEN_ACCESS_VIEW', now + 600_000, now, { issuer: 'one-window-hall' }) },
    );
    expect(self.status).toBe(403);
    expect(reasons(self)).toEqual(['self-issued']);
  });

  it('answers every family member with the seeded data, addresses masked and the seal withholding them', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const query = LIVING_ALLOWANCE_QUERY.replace('properties { unitNumber address area usage }', 'properties { unitNumber address area usage seal { token } }');
    const reply = await hub.clientFor('civil-affairs').query<any>(query, { family }, { ...ALLOWANCE, consents: consents(family) });
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();

    const expected = expectedLivingAllowance(hub.sandboxes.data, family);
    const masked = (reply.extensions!.masked as string[]) ?? [];
    const owned = expected.flatMap((p) => p.properties);
    expect(owned.length).toBeGreaterThan(0);
    expect(masked).toHaveLength(owned.length);
    expect(masked.every((path) => /^people\.\d+\.properties\.\d+\.address$/.test(path))).toBe(true);

    const people = reply.data.people.map((p: any) => ({ ...p, properties: p.properties?.map(({ seal: _s, ...x }: any) => x) }));
    const withAddressesMasked = expected.map((p) => ({ ...p, properties: p.properties.map((x) => ({ ...x, address: expect.stringMatching(/^山东省[^0-9]+?市[^0-9]+?(区|县)$/) })) }));
    expect(canonicalLivingAllowance(people)).toEqual(withAddressesMasked);

    const keys = await jwks();
    for (const person of reply.data.people) {
      for (const property of person.properties ?? []) {
        const verified = verifySeal(property.seal.token, { jwks: keys as never }) as { valid: boolean; disclosed: Record<string, unknown> };
        expect(verified.valid).toBe(true);
        expect(Object.keys(verified.disclosed).sort()).toEqual(['area', 'unitNumber', 'usage']);
      }
    }
    expect(await hub.clientFor('civil-affairs').verifyReply(reply)).toMatchObject({ valid: true });
  });

  it('takes the consents of a 50-person list in one request (about 20 KiB of headers)', async () => {
    const family = hub.sandboxes.data.persons.slice(0, 50).map((p) => p.idNumber);
    const reply = await hub.clientFor('civil-affairs').query<any>('query($family: [ID!]!) { people(idNumbers: $family) { name } }', { family }, { ...ALLOWANCE, consents: consents(family) });
    expect(reply.status).toBe(200);
    expect(reply.data.people).toHaveLength(50);
  });

  it('refuses the check without consent, with an expired consent, or with one for another subject', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    const client = hub.clientFor('civil-affairs');
    const none = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, ALLOWANCE);
    expect(none.status).toBe(403);
    expect(none.errors![0]!.extensions!.missingConsent).toHaveLength(family.length);

    const stale = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: consents(family, 'LIVING_ALLOWANCE', Date.now() - 600_000, Date.now() - 3_600_000) });
    expect(stale.status).toBe(403);
    expect(stale.errors![0]!.extensions!.missingConsent).toHaveLength(family.length);

    const otherPurpose = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: consents(family, 'NO_ARREARS_PROOF') });
    expect(otherPurpose.status).toBe(403);

    const others = consents(family.map((_, i) => hub.sandboxes.data.persons[100 + i]!.idNumber));
    const wrong = await client.query<any>(LIVING_ALLOWANCE_QUERY, { family }, { ...ALLOWANCE, consents: others });
    expect(wrong.status).toBe(403);
    expect(hub.calls()).toEqual(noCalls());
  });
});

describe('datarun query', () => {
  async function run(options: Partial<Parameters<typeof runQuery>[0]>) {
    let out = '';
    let err = '';
    const code = await runQuery({ hub: hub.url, keysDir: hub.keysDir, seed: 1, size: 200, ...options }, (t) => (out += t), (t) => (err += t));
    return { code, out, err };
  }

  it('runs both worked examples signed, and checks their receipts and seals', async () => {
    const transfer = await run({ example: 'property-transfer' });
    expect(transfer.code).toBe(0);
    expect(transfer.err).toMatch(/^receipt: valid \(audit record #\d+\)\nseal: valid, real-estate RealEstateUnit /);
    expect(JSON.parse(transfer.out).data.property.unitNumber).toBe(propertyTransferExample(hub.sandboxes.data).unitNumber);
    const allowance = await run({ example: 'living-allowance' });
    expect(allowance.code).toBe(0);
    expect(JSON.parse(allowance.out).data.people).toHaveLength(livingAllowanceExample(hub.sandboxes.data).family.length);
  });

  it('exits 3 (refused) and prints the refusal when the policy denies the query', async () => {
    const denied = await run({ query: '{ person(idNumber: "11010519491231002X") { socialInsurance { scheme } } }', as: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER' });
    expect(denied.code).toBe(3);
    expect(denied.err).toBe('HTTP 403\n');
    expect(JSON.parse(denied.out).errors[0].extensions.code).toBe('POLICY_DENIED');
  });

  it('exits 5 (unavailable) when the hub cannot be reached', async () => {
    let err = '';
    const code = await runQuery({ hub: 'http://127.0.0.1:1', keysDir: hub.keysDir, seed: 1, size: 200, query: '{ __typename }', as: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER' }, () => undefined, (t) => (err += t));
    expect(code).toBe(5);
    expect(err).toMatch(/\(ERR_HUB_UNREACHABLE\)\n$/);
  });

  it('names a missing consumer or purpose (a usage error: exit 2)', async () => {
    await expect(run({ query: '{ __typename }' })).rejects.toMatchObject({ code: 'CLI_USAGE' });
    await expect(run({ query: '{ __typename }' })).rejects.toThrow('--as <consumer> is required');
    await expect(run({ query: '{ __typename }', as: 'nobody', purpose: 'X' })).rejects.toThrow('no private key for consumer "nobody"');
  });
});

describe('introspection', () => {
  const TYPE = 'query($n: String!) { __type(name: $n) { fields { name } } }';

  it('shows a consumer only the fields it may request', async () => {
    const reply = await hub.clientFor('civil-affairs').query<any>(TYPE, { n: 'Property' }, ALLOWANCE);
    expect(reply.status).toBe(200);
    const fields = reply.data.__type.fields.map((f: { name: string }) => f.name).sort();
    expect(fields).toEqual(expect.arrayContaining(['address', 'area', 'unitNumber', 'usage']));
    expect(fields).not.toContain('mortgages');
    expect(fields).not.toContain('deedTaxPayments');
    const hidden = await hub.clientFor('civil-affairs').query<any>(TYPE, { n: 'Mortgage' }, ALLOWANCE);
    expect(hidden.data?.__type ?? null).toBeNull();
  });

  it('shows the whole schema to the admin role only', async () => {
    const reply = await hub.clientFor('hub-admin').query<any>(TYPE, { n: 'Property' }, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'OPS-1', operator: 'ops' });
    expect(reply.status).toBe(200);
    expect(reply.data.__type.fields.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['mortgages', 'seizures', 'deedTaxPayments', 'seal']));
  });
});
