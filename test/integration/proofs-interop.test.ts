/**
 * Every proof kind the hub issues, verified offline by an independent SD-JWT VC implementation
 * (issue 17): @sd-jwt/sd-jwt-vc 0.19 (OpenWallet Foundation), configured with node:crypto only —
 * issuer keys from the hub's JWKS (`GET /.well-known/jwks.json`, fetched once), the status list
 * from the hub's `GET /status/<list>` (fetched once, and again after the revocation), verified with
 * the hub's checkpoint key — next to the hub's own `verifyProof`.
 *
 * One signed hub for the file. Each kind of the table below is issued once through `issueProof`
 * (over HTTP, signed, with the person's consent) for a subject where it holds, including the
 * "no record" statements that hold (无欠税 for a person without tax registration, 无房 for a person
 * owning nothing), and refused (`PROOF_NOT_ESTABLISHED`, no token) for a subject where it does
 * not. Every issued token is then verified by both implementations, presented by both (each
 * verifying the other's Key Binding JWT), and refused by both for a tampered disclosure, another
 * holder key, another nonce and an expired clock; another audience and a revocation by the
 * department's event (new arrears through the tax change feed) close the file.
 *
 * What the independent library does not check, asserted with `verifyProof` alone: the KB-JWT's
 * `aud` (the library hands it back; comparing it is the relying party's) and its age (`iat`).
 * It also drops a disclosure no digest covers instead of refusing it (RFC 9901 §7.1 says refuse):
 * a verifier names the claims it needs (`requiredClaimKeys`), and then it refuses.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { presentProof, verifyProof, type ProofVerification, type VerifyProofOptions } from '../../src/proofs';
import { citizenIdCheckChar } from '../../src/sdk';
import { createConsentSigner, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

const PROOF = { purpose: 'PROOF_ISSUANCE', caseNumber: 'WZM-2026-017017', operator: 'hall-017' };
const ISSUED = '{ kind department token expiresAt holderBinding statusList statusIndex }';
const ISSUE_FOR_PERSON = `mutation Issue($kind: ProofKind!, $id: ID!, $key: String) { issueProof(kind: $kind, idNumber: $id, holderKey: $key) ${ISSUED} }`;
const ISSUE_FOR_ENTERPRISE = `mutation Issue($kind: ProofKind!, $code: ID!, $key: String) { issueProof(kind: $kind, creditCode: $code, holderKey: $key) ${ISSUED} }`;
const VERIFIER = 'https://bank-of-taian.example.cn';

type Subject = { idNumber: string } | { creditCode: string };
type HolderAlg = 'ES256' | 'EdDSA';
type Holder = { alg: HolderAlg; privateKey: KeyObject; publicJwk: JsonWebKey };
type Data = TestHub['sandboxes']['data'];

/**
 * One kind of proof as the hub issues it: a subject where the statement holds (and, for a
 * statement that can fail, one where it does not), the claims the proof must carry, and the
 * holder key it is bound to (none: a paper proof). ENTERPRISE_GOOD_STANDING (a hub envelope over
 * two parts) joins as a row once `issueProof` offers it; its envelope is checked with
 * `verifyProofBundle`, its parts like every row here.
 */
interface KindCase {
  readonly name: string;
  readonly kind: string;
  readonly department: string;
  readonly holds: (data: Data) => Subject;
  /** A subject where it does not hold (made so through the sandbox when the seed has none). */
  readonly notHeld?: (data: Data) => Subject | Promise<Subject>;
  readonly claims: (subject: Subject) => Record<string, unknown>;
  readonly holder?: HolderAlg;
}

/** A valid citizen identity number no department of the seed knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(900 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

const idOf = (s: Subject): string => ('idNumber' in s ? s.idNumber : s.creditCode);
const owners = (data: Data): Set<string> => new Set(data.properties.flatMap((p) => p.owners.map((o) => o.ownerId)));
const activeEnterprises = (data: Data) => data.enterprises.filter((e) => e.status === 'ACTIVE' && e.abnormalOperations.every((a) => a.removedAt !== null));

const KINDS: readonly KindCase[] = [
  {
    name: '无欠税证明 NO_TAX_ARREARS, a person without arrears (bound, P-256)',
    kind: 'NO_TAX_ARREARS',
    department: 'tax',
    holds: (d) => ({ idNumber: d.taxpayers.filter((t) => t.kind === 'PERSON' && t.arrears.length === 0)[0]!.taxpayerId }),
    // The seed's persons owe nothing: the tax administration records arrears of another one first.
    notHeld: async (d) => {
      const owing = d.taxpayers.filter((t) => t.kind === 'PERSON' && t.arrears.length === 0)[5]!.taxpayerId;
      expect(await recordArrears(owing, 'INDIVIDUAL_INCOME')).toBe(201);
      return { idNumber: owing };
    },
    claims: (s) => ({ taxpayerId: idOf(s), registered: true, hasArrears: false }),
    holder: 'ES256',
  },
  {
    name: '无欠税证明 NO_TAX_ARREARS, an enterprise without arrears (unbound, for paper)',
    kind: 'NO_TAX_ARREARS',
    department: 'tax',
    holds: (d) => ({ creditCode: d.taxpayers.find((t) => t.kind === 'ENTERPRISE' && t.arrears.length === 0)!.taxpayerId }),
    notHeld: (d) => ({ creditCode: d.taxpayers.find((t) => t.kind === 'ENTERPRISE' && t.arrears.length > 0)!.taxpayerId }),
    claims: (s) => ({ taxpayerId: idOf(s), registered: true, hasArrears: false }),
  },
  {
    name: '无欠税证明 NO_TAX_ARREARS, no record: a person without tax registration (bound, Ed25519)',
    kind: 'NO_TAX_ARREARS',
    department: 'tax',
    holds: () => ({ idNumber: unknownIdNumber(17) }),
    claims: (s) => ({ taxpayerId: idOf(s), registered: false, hasArrears: false }),
    holder: 'EdDSA',
  },
  {
    name: '不动产登记信息 PROPERTY_RECORD, an owner (bound, P-256)',
    kind: 'PROPERTY_RECORD',
    department: 'real-estate',
    holds: (d) => ({ idNumber: d.properties[3]!.owners.find((o) => o.kind === 'PERSON')!.ownerId }),
    notHeld: (d) => ({ idNumber: d.persons.filter((p) => !owners(d).has(p.idNumber))[1]!.idNumber }),
    claims: (s) => ({ idNumber: idOf(s), properties: expect.arrayContaining([expect.objectContaining({ unitNumber: expect.any(String) })]) }),
    holder: 'ES256',
  },
  {
    name: '无房证明 NO_PROPERTY, no record: a person owning nothing (bound, Ed25519)',
    kind: 'NO_PROPERTY',
    department: 'real-estate',
    holds: (d) => ({ idNumber: d.persons.filter((p) => !owners(d).has(p.idNumber))[0]!.idNumber }),
    notHeld: (d) => ({ idNumber: d.properties[3]!.owners.find((o) => o.kind === 'PERSON')!.ownerId }),
    claims: (s) => ({ idNumber: idOf(s), propertiesFound: 0 }),
    holder: 'EdDSA',
  },
  {
    name: '社保缴费证明 SOCIAL_INSURANCE_CONTRIBUTIONS, an insured person (bound, P-256)',
    kind: 'SOCIAL_INSURANCE_CONTRIBUTIONS',
    department: 'social-security',
    holds: (d) => ({ idNumber: d.insured.find((i) => i.contributions.length > 0)!.idNumber }),
    notHeld: () => ({ idNumber: unknownIdNumber(18) }),
    claims: (s) => ({ idNumber: idOf(s), insuredStatus: expect.any(String), insuranceTypes: expect.any(Array), monthsByType: expect.any(Object) }),
    holder: 'ES256',
  },
  {
    name: '企业登记状态 ENTERPRISE_REGISTRATION, an active enterprise (bound, P-256)',
    kind: 'ENTERPRISE_REGISTRATION',
    department: 'market-regulation',
    holds: (d) => ({ creditCode: activeEnterprises(d)[0]!.creditCode }),
    notHeld: (d) => ({ creditCode: d.enterprises.find((e) => e.status !== 'ACTIVE')!.creditCode }),
    claims: (s) => ({ creditCode: idOf(s), registrationStatus: 'ACTIVE', onAbnormalList: false }),
    holder: 'ES256',
  },
];

let hub: TestHub;
let jwks: { keys: Array<Record<string, unknown> & { kid: string; alg: string; datarun: { owner: string; ownerKind: string; use: string } }> };
/** The hub's Status List Tokens by URI, each fetched once (again only after the revocation). */
const statusTokens = new Map<string, string>();
const holders = new Map<HolderAlg, Holder>();
/** What the hub issued for each row, by the row's name. */
const issued = new Map<string, { token: string; subject: Subject; expiresAt: string; holderBinding: string; statusList: string }>();

function newHolder(alg: HolderAlg): Holder {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { alg, privateKey: pair.privateKey, publicJwk: pair.publicKey.export({ format: 'jwk' }) };
}

beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
  jwks = (await (await fetch(`${hub.url}/.well-known/jwks.json`)).json()) as typeof jwks;
  holders.set('ES256', newHolder('ES256'));
  holders.set('EdDSA', newHolder('EdDSA'));
});
afterAll(async () => {
  await hub?.close();
});

function consent(subject: string): string {
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject, purpose: PROOF.purpose, expiresAt: Date.now() + 600_000 });
}

async function issue(kind: string, subject: Subject, holder?: Holder) {
  const key = holder ? { key: JSON.stringify(holder.publicJwk) } : {};
  // A person's proof needs the person's consent; an enterprise's none.
  return 'idNumber' in subject
    ? hub.clientFor('one-window-hall').query<any>(ISSUE_FOR_PERSON, { kind, id: subject.idNumber, ...key }, { ...PROOF, consents: [consent(subject.idNumber)] })
    : hub.clientFor('one-window-hall').query<any>(ISSUE_FOR_ENTERPRISE, { kind, code: subject.creditCode, ...key }, PROOF);
}

/**
 * The tax sandbox records arrears of a taxpayer (its change route on the operator listener); its
 * status code. A connection of its own (agent: false): the two POSTs of the file are seconds apart,
 * and a kept-alive socket the listener closes meanwhile (5 s) would reset the second.
 */
function recordArrears(taxpayerId: string, taxType: string): Promise<number> {
  const body = JSON.stringify({ taxpayerId, taxType, amount: 880.5, since: '2026-11-15' });
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${hub.operatorUrl}/__sandbox/tax/arrears`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function statusToken(uri: string): Promise<string> {
  let token = statusTokens.get(uri);
  if (token === undefined) {
    const res = await fetch(uri);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
    token = await res.text();
    statusTokens.set(uri, token);
  }
  return token;
}

// ---- The independent implementation: node:crypto and the published JWKS, nothing of src/seal or src/proofs.

/** Entry `idx` of a Status List Token, by hand: its signature by the hub's key, `lst` inflated, the draft's bit order (0 VALID, 1 INVALID). */
function handStatus(token: string, idx: number): number {
  const [h, p, sig] = token.split('.');
  expect(jwksVerifier('hub', 'checkpoint')(`${h}.${p}`, sig!)).toBe(true);
  const { status_list: packed } = b64json(p!);
  const bits = packed.bits as number;
  expect([1, 2, 4, 8]).toContain(bits);
  const bytes = inflateSync(Buffer.from(packed.lst, 'base64url'));
  const perByte = 8 / bits;
  return (bytes[Math.floor(idx / perByte)]! >> ((idx % perByte) * bits)) & ((1 << bits) - 1);
}

const b64json = (segment: string): Record<string, any> => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, any>;

/** Verifies a JWS signature over `data` with a public JWK, for the algorithms the hub uses. */
function jwsVerify(alg: unknown, jwk: Record<string, unknown>, data: string, signature: string): boolean {
  const { kty, crv, x, y } = jwk as Record<string, string>;
  const key = createPublicKey({ key: (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as JsonWebKey, format: 'jwk' });
  const sig = Buffer.from(signature, 'base64url');
  if (alg === 'EdDSA') return crv === 'Ed25519' && cryptoVerify(null, Buffer.from(data), key, sig);
  const hash = alg === 'ES256' && crv === 'P-256' ? 'sha256' : alg === 'ES384' && crv === 'P-384' ? 'sha384' : undefined;
  return hash !== undefined && cryptoVerify(hash, Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** An issuer verifier: the JWKS key of the JWT's `kid`, of the given owner kind and use, owned by its `iss`, its `alg` pinned. */
function jwksVerifier(ownerKind: string, use: string) {
  return (data: string, signature: string): boolean => {
    const [h, p] = data.split('.');
    const header = b64json(h!);
    const payload = b64json(p!);
    const key = jwks.keys.find((k) => k.kid === header.kid);
    if (!key || key.datarun.ownerKind !== ownerKind || key.datarun.use !== use || key.datarun.owner !== payload.iss || key.alg !== header.alg) return false;
    return jwsVerify(header.alg, key, data, signature);
  };
}

const hasher = (data: string | ArrayBuffer, alg: string): Uint8Array => {
  if (alg !== 'sha-256') throw new Error(`unexpected hash algorithm ${alg}`);
  return new Uint8Array(createHash('sha256').update(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)).digest());
};

/** The relying party's verifier: department seal keys for proofs, the hub's checkpoint key for its status lists. */
function independentVerifier(): SDJwtVcInstance {
  return new SDJwtVcInstance({
    hasher,
    hashAlg: 'sha-256',
    verifier: jwksVerifier('department', 'seal'),
    statusVerifier: jwksVerifier('hub', 'checkpoint'),
    kbVerifier: (data, signature, payload) => jwsVerify(b64json(data.split('.')[0]!).alg, (payload.cnf as { jwk: Record<string, unknown> }).jwk, data, signature),
    statusListFetcher: async (uri) => {
      const token = statusTokens.get(uri);
      if (token === undefined) throw new Error(`no status list fetched for ${uri}`);
      return token;
    },
  });
}

const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * The holder's wallet signing the KB-JWT through @sd-jwt/sd-jwt-vc. ECDSA signatures are raw
 * `R || S`; S is put in low form (n − S when above n/2): the hub refuses a high-S signature
 * (docs/proofs.md, "Keys"), so a wallet signing for it must normalise, as this one does.
 */
function walletOf(holder: Holder): SDJwtVcInstance {
  const kbSigner = (data: string): string => {
    if (holder.alg === 'EdDSA') return cryptoSign(null, Buffer.from(data), holder.privateKey).toString('base64url');
    const sig = cryptoSign('sha256', Buffer.from(data), { key: holder.privateKey, dsaEncoding: 'ieee-p1363' });
    const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const low = s > P256_N / 2n ? P256_N - s : s;
    return Buffer.concat([sig.subarray(0, 32), Buffer.from(low.toString(16).padStart(64, '0'), 'hex')]).toString('base64url');
  };
  return new SDJwtVcInstance({ hasher, hashAlg: 'sha-256', kbSigner, kbSignAlg: holder.alg });
}

/** The disclosures of an issued token, decoded: `[salt, name, value]` by position. */
function disclosuresOf(token: string): Array<{ encoded: string; name: string; value: unknown }> {
  return token
    .split('~')
    .slice(1, -1)
    .map((encoded) => {
      const [, name, value] = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as [string, string, unknown];
      return { encoded, name, value };
    });
}

const pick = (o: Record<string, unknown>, names: readonly string[]): Record<string, unknown> => Object.fromEntries(names.filter((n) => n in o).map((n) => [n, o[n]]));

/** The hub's verifier: the JWKS fetched once, the status lists fetched once. */
function hubOptions(over: Partial<VerifyProofOptions> = {}): VerifyProofOptions {
  return { keys: { jwks: jwks as never }, statusList: (uri) => statusToken(uri), requireStatus: true, expectedAudience: VERIFIER, ...over };
}

/** A presentation of every claim: with the hub library's KB-JWT when bound, as it was issued otherwise. */
function presentAll(row: KindCase, token: string, nonce: string, over: { audience?: string; now?: number } = {}): string {
  if (!row.holder) return presentProof(token, { disclose: 'all' });
  return presentProof(token, { disclose: 'all', holderKey: holders.get(row.holder)!.privateKey, nonce, audience: over.audience ?? VERIFIER, ...(over.now !== undefined ? { now: over.now } : {}) });
}

const bound = KINDS.filter((k) => k.holder !== undefined);
const failing = KINDS.filter((k) => k.notHeld !== undefined);

describe('proofs 无证明: every kind the hub issues, verified by @sd-jwt/sd-jwt-vc too', () => {
  it.each(KINDS.map((k) => [k.name, k] as const))('issues %s; both implementations verify it offline, status included', async (_name, row) => {
    const subject = row.holds(hub.sandboxes.data);
    const reply = await issue(row.kind, subject, row.holder ? holders.get(row.holder) : undefined);
    expect(reply.errors).toBeUndefined();
    const proof = reply.data.issueProof;
    expect(proof).toMatchObject({ kind: row.kind, department: row.department, holderBinding: row.holder ? 'cnf' : 'none', statusList: expect.stringMatching(new RegExp(`^${hub.url}/status/\\d+$`)) });
    issued.set(row.name, { ...proof, subject });

    const names = disclosuresOf(proof.token).map((d) => d.name);
    const presentation = presentAll(row, proof.token, 'n-issue');
    const ours = await verifyProof(presentation, hubOptions({ expectedNonce: 'n-issue' }));
    expect(ours).toMatchObject({ valid: true, kind: row.kind, vct: `urn:datarun:proof:${row.kind}`, department: row.department, purpose: PROOF.purpose, status: 'VALID', holderBound: row.holder !== undefined });
    if (!ours.valid) return;
    expect(ours.disclosed).toEqual(expect.objectContaining(row.claims(subject)));
    expect(Object.keys(ours.disclosed).sort()).toEqual([...names].sort());

    const theirs = await independentVerifier().verify(presentation, { requiredClaimKeys: names, ...(row.holder ? { keyBindingNonce: 'n-issue' } : {}) });
    expect(theirs.header).toMatchObject({ typ: 'dc+sd-jwt', alg: 'ES256', kid: expect.stringMatching(new RegExp(`^${row.department}\\.seal\\.`)) });
    expect(theirs.payload).toMatchObject({ iss: row.department, vct: `urn:datarun:proof:${row.kind}`, kind: row.kind, status: { status_list: { uri: proof.statusList, idx: proof.statusIndex } } });
    expect(theirs.payload.exp).toBe(Date.parse(proof.expiresAt) / 1000);
    // The claims the independent implementation disclosed are the hub's reading, value for value.
    expect(pick(theirs.payload, names)).toEqual(ours.disclosed);
    if (row.holder) {
      expect(theirs.payload.cnf).toEqual({ jwk: expect.objectContaining(holders.get(row.holder)!.publicJwk) });
      expect(theirs.kb?.header).toEqual({ typ: 'kb+jwt', alg: row.holder });
      expect(theirs.kb?.payload).toMatchObject({ nonce: 'n-issue', aud: VERIFIER });
    } else {
      expect(theirs.payload).not.toHaveProperty('cnf');
      expect(theirs.kb).toBeUndefined();
    }
  });

  it.each(failing.map((k) => [k.kind, k.name, k] as const))('issues no %s where the statement does not hold (the row: %s)', async (_kind, _name, row) => {
    const reply = await issue(row.kind, await row.notHeld!(hub.sandboxes.data), row.holder ? holders.get(row.holder) : undefined);
    expect(reply.errors?.[0]?.extensions?.code).toBe('PROOF_NOT_ESTABLISHED');
    expect(reply.data ?? null).toBeNull();
    expect(JSON.stringify(reply)).not.toMatch(/~/);
  });

  it.each(bound.map((k) => [k.name, k] as const))('%s: each implementation verifies the other’s presentation (selective disclosure, KB-JWT)', async (_name, row) => {
    const { token, subject } = issued.get(row.name)!;
    const holder = holders.get(row.holder!)!;
    const shown = Object.keys(row.claims(subject)).slice(0, 2);
    const iat = Math.floor(Date.now() / 1000);

    // The hub library presents, @sd-jwt/sd-jwt-vc verifies.
    const byHub = presentProof(token, { disclose: shown, holderKey: holder.privateKey, nonce: 'n-hub', audience: VERIFIER });
    const theirs = await independentVerifier().verify(byHub, { keyBindingNonce: 'n-hub', requiredClaimKeys: shown });
    expect(Object.keys(pick(theirs.payload, disclosuresOf(token).map((d) => d.name))).sort()).toEqual([...shown].sort());
    expect(theirs.kb?.payload).toMatchObject({ aud: VERIFIER, nonce: 'n-hub' });

    // @sd-jwt/sd-jwt-vc presents (its own KB-JWT with the holder's key), the hub library verifies.
    const frame = Object.fromEntries(shown.map((n) => [n, true]));
    const byThem = await walletOf(holder).present(token, frame, { kb: { payload: { iat, aud: VERIFIER, nonce: 'n-them' } } });
    const ours = await verifyProof(byThem, hubOptions({ expectedNonce: 'n-them' }));
    expect(ours).toMatchObject({ valid: true, holderBound: true, status: 'VALID' });
    if (ours.valid) expect(Object.keys(ours.disclosed).sort()).toEqual([...shown].sort());
    // ...and its own presentation verifies with it too.
    await expect(independentVerifier().verify(byThem, { keyBindingNonce: 'n-them', requiredClaimKeys: shown })).resolves.toBeDefined();
  });

  describe('refusals, by both implementations', () => {
    it.each(KINDS.map((k) => [k.name, k] as const))('%s: a disclosure whose value was changed', async (_name, row) => {
      const { token } = issued.get(row.name)!;
      const parts = token.split('~');
      const [salt, name, value] = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as [string, string, unknown];
      const changed = typeof value === 'boolean' ? !value : typeof value === 'number' ? value + 1 : typeof value === 'string' ? `${value}0` : null;
      const tampered = [parts[0], Buffer.from(JSON.stringify([salt, name, changed])).toString('base64url'), ...parts.slice(2)].join('~');
      // Signed over the tampered presentation by the right holder: only the disclosure is wrong.
      const presentation = presentAll(row, tampered, 'n-t');
      expect(await verifyProof(presentation, hubOptions({ expectedNonce: 'n-t' }))).toMatchObject({ valid: false, reason: 'TAMPERED_DISCLOSURE', detail: expect.stringContaining(`"${name}"`) });
      const kb = row.holder ? { keyBindingNonce: 'n-t' } : {};
      await expect(independentVerifier().verify(presentation, { ...kb, requiredClaimKeys: [name] })).rejects.toThrow(`Missing required claim keys: ${name}`);
      // Without requiredClaimKeys it leaves the claim out: the changed value never reaches the relying party.
      const lenient = await independentVerifier().verify(presentation, kb);
      expect(lenient.payload).not.toHaveProperty(name);
    });

    it.each(bound.map((k) => [k.name, k] as const))('%s: a KB-JWT signed by another key than cnf', async (_name, row) => {
      const { token } = issued.get(row.name)!;
      const other = newHolder(row.holder!);
      // The hub library will not sign for a key the proof is not bound to...
      expect(() => presentProof(token, { disclose: 'all', holderKey: other.privateKey, nonce: 'n-w', audience: VERIFIER })).toThrow('holderKey is not the key the proof is bound to');
      // ...so the other key's KB-JWT comes from the independent wallet.
      const presentation = await walletOf(other).present(token, undefined, { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: VERIFIER, nonce: 'n-w' } } });
      expect(await verifyProof(presentation, hubOptions({ expectedNonce: 'n-w' }))).toMatchObject({ valid: false, reason: 'WRONG_HOLDER_KEY' });
      await expect(independentVerifier().verify(presentation, { keyBindingNonce: 'n-w' })).rejects.toThrow('Verify Error: Invalid JWT Signature');
      // The issuer's part is fine: it is the KB-JWT's signature that fails.
      await expect(independentVerifier().verify(presentation)).resolves.toBeDefined();
    });

    it.each(bound.map((k) => [k.name, k] as const))('%s: a KB-JWT over another nonce', async (_name, row) => {
      const presentation = presentAll(row, issued.get(row.name)!.token, 'n-given');
      expect(await verifyProof(presentation, hubOptions({ expectedNonce: 'n-expected' }))).toMatchObject({ valid: false, reason: 'WRONG_NONCE' });
      await expect(independentVerifier().verify(presentation, { keyBindingNonce: 'n-expected' })).rejects.toThrow('Verify Error: Invalid Nonce');
    });

    it.each(bound.map((k) => [k.name, k] as const))('%s: a KB-JWT for another verifier (aud): refused by verifyProof; the independent library does not check aud', async (_name, row) => {
      const presentation = presentAll(row, issued.get(row.name)!.token, 'n-a', { audience: 'https://another-bank.example.cn' });
      expect(await verifyProof(presentation, hubOptions({ expectedNonce: 'n-a' }))).toMatchObject({ valid: false, reason: 'WRONG_AUDIENCE' });
      // @sd-jwt/sd-jwt-vc 0.19 checks nonce and sd_hash but not aud: it accepts, and hands the aud
      // back for the relying party to compare (which is what a verifier using it must do).
      const theirs = await independentVerifier().verify(presentation, { keyBindingNonce: 'n-a' });
      expect(theirs.kb?.payload.aud).toBe('https://another-bank.example.cn');
      expect(theirs.kb?.payload.aud).not.toBe(VERIFIER);
    });

    it.each(KINDS.map((k) => [k.name, k] as const))('%s: verified at a clock past its exp', async (_name, row) => {
      const { token, expiresAt } = issued.get(row.name)!;
      const after = Date.parse(expiresAt) + 86_400_000;
      const presentation = presentAll(row, token, 'n-x', { now: after });
      const ours: ProofVerification = await verifyProof(presentation, hubOptions({ expectedNonce: 'n-x', now: after }));
      expect(ours).toMatchObject({ valid: false, reason: 'EXPIRED', detail: expect.stringContaining(`the proof expired at ${expiresAt}`) });
      await expect(independentVerifier().verify(presentation, { currentDate: after / 1000, ...(row.holder ? { keyBindingNonce: 'n-x' } : {}) })).rejects.toThrow('Verify Error: JWT is expired');
      // A minute before exp the hub accepts it (its status unchecked: today's status list token
      // expires in a day). The independent library cannot be asked the same: it verifies the status
      // list token at the same clock, and refuses it as expired.
      const before = Date.parse(expiresAt) - 60_000;
      const fresh = presentAll(row, token, 'n-x', { now: before });
      const { statusList: _s, ...withoutStatus } = hubOptions({ expectedNonce: 'n-x', now: before, requireStatus: false });
      expect(await verifyProof(fresh, withoutStatus)).toMatchObject({ valid: true, status: 'UNCHECKED' });
    });
  });

  it('issues ENTERPRISE_GOOD_STANDING: each part verified by @sd-jwt/sd-jwt-vc, the envelope by node:crypto and the documented digests, its status entry read from the list', async () => {
    const data = hub.sandboxes.data;
    const withoutArrears = new Set(data.taxpayers.filter((t) => t.kind === 'ENTERPRISE' && t.arrears.length === 0).map((t) => t.taxpayerId));
    const code = [...activeEnterprises(data)].reverse().find((e) => withoutArrears.has(e.creditCode))!.creditCode;
    const reply = await hub.clientFor('one-window-hall').query<any>(
      'mutation Issue($code: ID!) { issueProof(kind: ENTERPRISE_GOOD_STANDING, creditCode: $code) { token statusList statusIndex expiresAt } }',
      { code },
      PROOF,
    );
    expect(reply.errors).toBeUndefined();
    const { token, statusList, statusIndex, expiresAt } = reply.data.issueProof;
    // The one-string form, as docs/proofs.md gives it: <envelope>,<part>,<part>.
    const [envelope, ...parts] = (token as string).split(',');
    expect(parts).toHaveLength(2);

    // Each part is a department's own SD-JWT VC: the independent library verifies it, status included.
    const partPayloads: Record<string, any>[] = [];
    for (const part of parts) {
      const payload = b64json(part.split('~')[0]!.split('.')[1]!);
      await statusToken(payload.status.status_list.uri);
      const names = disclosuresOf(part).map((d) => d.name);
      const theirs = await independentVerifier().verify(part, { requiredClaimKeys: names });
      expect(theirs.payload).toMatchObject({ purpose: PROOF.purpose });
      partPayloads.push(theirs.payload);
    }
    expect(partPayloads.map((p) => [p.iss, p.kind])).toEqual([
      ['market-regulation', 'ENTERPRISE_REGISTRATION'],
      ['tax', 'NO_TAX_ARREARS'],
    ]);

    // The envelope: the hub's checkpoint key from the JWKS, typ, and each part's issuer JWT by its SHA-256.
    const [h, p, sig] = envelope!.split('.');
    expect(b64json(h!)).toMatchObject({ typ: 'datarun-proof-bundle+jwt' });
    expect(jwksVerifier('hub', 'checkpoint')(`${h}.${p}`, sig!)).toBe(true);
    expect(jwksVerifier('hub', 'checkpoint')(`${h}.${p}`, `${sig!.slice(0, -4)}AAAA`)).toBe(false);
    const claims = b64json(p!);
    expect(claims).toMatchObject({ kind: 'ENTERPRISE_GOOD_STANDING', sub: code, purpose: PROOF.purpose, exp: Date.parse(expiresAt) / 1000 });
    expect(claims.parts).toEqual(
      parts.map((part, i) => ({ digest: createHash('sha256').update(part.split('~')[0]!).digest('base64url'), iss: partPayloads[i]!.iss, kind: partPayloads[i]!.kind })),
    );
    expect(partPayloads.every((pp) => pp.exp >= claims.exp)).toBe(true);

    // Its own status entry: the list token verified with the hub's key, its bits inflated by hand.
    expect(claims.status).toEqual({ status_list: { idx: statusIndex, uri: statusList } });
    expect(handStatus(await (await fetch(statusList)).text(), statusIndex)).toBe(0);
  });

  it('revokes 无欠税证明 when the tax administration records new arrears (its change feed): both refuse it, the other proofs on the list stay valid', async () => {
    const row = KINDS[0]!;
    const { token, subject, statusList } = issued.get(row.name)!;
    expect(await recordArrears(idOf(subject), 'PROPERTY')).toBe(201);
    // The hub revokes when its poller reads the feed: the list is fetched again until the entry flips.
    const until = Date.now() + 60_000;
    let ours: ProofVerification;
    for (;;) {
      statusTokens.delete(statusList);
      ours = await verifyProof(presentAll(row, token, 'n-r'), hubOptions({ expectedNonce: 'n-r' }));
      if (!ours.valid || Date.now() > until) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(ours).toMatchObject({ valid: false, reason: 'REVOKED' });
    await expect(independentVerifier().verify(presentAll(row, token, 'n-r'), { keyBindingNonce: 'n-r' })).rejects.toThrow('Status is not valid');
    // Read by hand too: INVALID at the proof's entry, VALID at another proof's on the list.
    const revokedAt = b64json(token.split('.')[1]!).status.status_list.idx as number;
    expect(handStatus(statusTokens.get(statusList)!, revokedAt)).toBe(1);
    const other = issued.get(KINDS[1]!.name)!;
    if (other.statusList === statusList) expect(handStatus(statusTokens.get(statusList)!, b64json(other.token.split('.')[1]!).status.status_list.idx as number)).toBe(0);
    // The same status list token: every other proof is still VALID in it, for both.
    for (const other of KINDS.slice(1)) {
      const kept = issued.get(other.name)!;
      const presentation = presentAll(other, kept.token, 'n-k');
      expect(await verifyProof(presentation, hubOptions({ expectedNonce: 'n-k' }))).toMatchObject({ valid: true, status: 'VALID' });
      await expect(independentVerifier().verify(presentation, other.holder ? { keyBindingNonce: 'n-k' } : {})).resolves.toBeDefined();
    }
  });
});
