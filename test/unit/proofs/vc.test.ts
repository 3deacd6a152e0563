/**
 * Proofs as SD-JWT VCs: issued with a department's seal key, presented (selected disclosures, a
 * Key Binding JWT), verified — a round trip over arbitrary claim objects, and each refusal
 * produced by one precise tampering; the status list entry; the bundle envelope.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { createSealer, presentSeal, signHolderJwt, verifySeal, type KeyStore } from '../../../src/seal';
import {
  createStatusListSigner,
  issueProofBundle,
  issueProofVc,
  presentProof,
  signStatusListToken,
  STATUS,
  verifyProof,
  verifyProofBundle,
  type IssueProofInput,
  type StatusListSigner,
} from '../../../src/proofs';
import { craftJws, decodeSegment, demoKeyStore, privateJwkOf, removeTempDirs } from '../seal/fixture';

const NOW = Date.UTC(2026, 2, 6, 2, 0, 0);
const LATER = NOW + 60_000;
const URI = 'https://hub.example.gov.cn/status/0';
const NONCE = 'n-4f1c2a';
const AUD = 'https://bank.example.cn';
let store: KeyStore;
let statusSigner: StatusListSigner;
const holder = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  store = await demoKeyStore(new Date(NOW - 86_400_000));
  statusSigner = createStatusListSigner({ keyStore: store });
});
afterAll(removeTempDirs);

const taxClaims = { taxpayerName: '张三', idNumber: '370102199001011234', hasArrears: false };
const base = (over: Partial<IssueProofInput> = {}): IssueProofInput => ({
  keyStore: store,
  department: 'tax',
  kind: 'NO_TAX_ARREARS',
  purpose: '办理贷款',
  asOf: NOW - 3_600_000,
  subjectKind: 'PERSON',
  claims: taxClaims,
  validitySeconds: 30 * 86_400,
  now: NOW,
  ...over,
});
const keys = () => ({ keyStore: store });
const verify = (presentation: string, over: Record<string, unknown> = {}) => verifyProof(presentation, { keys: keys(), expectedNonce: NONCE, expectedAudience: AUD, now: LATER, ...over });
const boundPresentation = (disclose: readonly string[] | 'all' = 'all') => presentProof(issueProofVc(base({ holderJwk: holder.publicKey })).token, { disclose, holderKey: holder.privateKey, nonce: NONCE, audience: AUD, now: LATER });
const statusToken = (statuses: number[]) => signStatusListToken({ uri: URI, bits: 2, statuses, ttlSeconds: 300, now: NOW, sign: statusSigner });

/** Replaces the payload of a JWT (the signature no longer matches). */
const withPayload = (jwt: string, change: (p: Record<string, unknown>) => Record<string, unknown>): string => {
  const [h, p, s] = jwt.split('.');
  return `${h}.${Buffer.from(JSON.stringify(change(decodeSegment(p!)))).toString('base64url')}.${s}`;
};
/** Re-signs an issuer JWT with the department's own key after a change: a validly signed hostile proof. */
const resign = (jwt: string, change: (p: Record<string, unknown>) => Record<string, unknown>, header?: Record<string, unknown>): string => {
  const [h, p] = jwt.split('.');
  return craftJws(header ?? decodeSegment(h!), change(decodeSegment(p!)), privateJwkOf(store, 'tax', 'seal'));
};

describe('issueProofVc', () => {
  it('signs a dc+sd-jwt with the department’s seal key: the clear claims, cnf or holderBinding none, status, and one disclosure per claim', () => {
    const issued = issueProofVc(base({ holderJwk: holder.publicKey, status: { idx: 7, uri: URI }, subject: createSealer({ keyStore: store, subjectSecret: 's'.repeat(32) }).subjectOf('Taxpayer', '1') }));
    const [jwt, ...rest] = issued.token.split('~');
    expect(rest.pop()).toBe('');
    expect(rest).toHaveLength(3);
    const [h, p] = jwt!.split('.');
    expect(decodeSegment(h!)).toEqual({ alg: 'ES256', kid: store.currentKeyId('tax', 'seal'), typ: 'dc+sd-jwt' });
    const payload = decodeSegment(p!);
    expect(payload).toMatchObject({
      iss: 'tax',
      iat: NOW / 1000,
      exp: NOW / 1000 + 30 * 86_400,
      vct: 'urn:datarun:proof:NO_TAX_ARREARS',
      kind: 'NO_TAX_ARREARS',
      purpose: '办理贷款',
      asOf: (NOW - 3_600_000) / 1000,
      subjectKind: 'PERSON',
      holderBinding: 'cnf',
      cnf: { jwk: { kty: 'EC', crv: 'P-256' } },
      status: { status_list: { idx: 7, uri: URI } },
      _sd_alg: 'sha-256',
    });
    expect(payload.sub).toHaveLength(43);
    expect((payload._sd as string[]).slice().sort()).toEqual(payload._sd);
    expect(JSON.stringify(payload)).not.toContain('张三');
    expect(Object.keys(issued.disclosures)).toEqual(['taxpayerName', 'idNumber', 'hasArrears']);
    const unbound = decodeSegment(issueProofVc(base()).token.split('.')[1]!);
    expect(unbound.holderBinding).toBe('none');
    expect(unbound).not.toHaveProperty('cnf');
  });

  it('refuses bad input naming it', () => {
    const code = { code: 'PROOF_INPUT_INVALID' };
    expect(() => issueProofVc(base({ kind: 'no tax' }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ claims: { exp: 1 } }))).toThrow(expect.objectContaining({ ...code, message: 'claim "exp" has a reserved name' }));
    expect(() => issueProofVc(base({ claims: { purpose: 'x' } }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ claims: { n: 1n } }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ expiresAt: NOW + 1000 }))).toThrow(expect.objectContaining({ message: 'give exactly one of validitySeconds and expiresAt' }));
    expect(() => issueProofVc(base({ validitySeconds: 0 }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ purpose: '' }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ vct: 'urn:datarun:proof:NO_PROPERTY' }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ holderJwk: { kty: 'RSA', n: 'x', e: 'AQAB' } }))).toThrow(expect.objectContaining(code));
    expect(() => issueProofVc(base({ department: 'nobody' }))).toThrow();
  });
});

describe('issue → present → verify', () => {
  it('round-trips any claim object, disclosing exactly the chosen claims, bound and unbound', async () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((n) => !['_sd', '...', 'iss', 'iat', 'nbf', 'exp', 'sub', 'vct', 'cnf', 'status', 'aud', 'jti', 'kind', 'purpose', 'asOf', 'subjectKind', 'holderBinding', '_sd_alg', 'vct#integrity', '__proto__', 'constructor', 'prototype'].includes(n));
    const claims = fc.dictionary(name, fc.jsonValue(), { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(claims, fc.boolean(), fc.infiniteStream(fc.boolean()), async (claimSet, bound, picks) => {
        const issued = issueProofVc(base({ claims: claimSet, ...(bound ? { holderJwk: holder.publicKey } : {}) }));
        const names = Object.keys(claimSet).filter(() => picks.next().value as boolean);
        const presentation = presentProof(issued.token, { disclose: names, ...(bound ? { holderKey: holder.privateKey } : {}), nonce: NONCE, audience: AUD, now: LATER });
        const result = await verify(presentation);
        if (!result.valid) throw new Error(`${result.reason}: ${result.detail}`);
        expect(result.holderBound).toBe(bound);
        expect(result.disclosed).toEqual(JSON.parse(JSON.stringify(Object.fromEntries(names.map((n) => [n, claimSet[n]])))));
        expect(result).toMatchObject({ kind: 'NO_TAX_ARREARS', department: 'tax', purpose: '办理贷款', subjectKind: 'PERSON', status: 'UNCHECKED', asOf: new Date(NOW - 3_600_000) });
      }),
      { numRuns: 40 },
    );
  });

  it('verifies with the published JWKS too, and reads VALID and SUSPENDED from the status list', async () => {
    const token = issueProofVc(base({ status: { idx: 2, uri: URI } })).token;
    const presentation = presentProof(token, { disclose: ['hasArrears'] });
    const jwks = { jwks: store.publicJwks() };
    expect(await verify(presentation, { keys: jwks, statusList: { [URI]: statusToken([0, 0, 0, 0]) } })).toMatchObject({ valid: true, status: 'VALID', disclosed: { hasArrears: false } });
    expect(await verify(presentation, { statusList: async () => statusToken([0, 0, STATUS.SUSPENDED, 0]) })).toMatchObject({ valid: true, status: 'SUSPENDED' });
  });

  it('refuses in presentProof what cannot be presented', () => {
    const bound = issueProofVc(base({ holderJwk: holder.publicKey })).token;
    expect(() => presentProof(bound, { disclose: ['nope'] })).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
    expect(() => presentProof(bound, { disclose: 'all', holderKey: stranger.privateKey, nonce: NONCE, audience: AUD })).toThrow(expect.objectContaining({ message: 'holderKey is not the key the proof is bound to' }));
    expect(() => presentProof(bound, { disclose: 'all', holderKey: holder.privateKey, audience: AUD })).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
    expect(() => presentProof(issueProofVc(base()).token, { disclose: 'all', holderKey: holder.privateKey, nonce: NONCE, audience: AUD })).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
    expect(() => presentProof('garbage', { disclose: 'all' })).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
  });
});

describe('verifyProof refuses, each with its reason', () => {
  it('BAD_SIGNATURE: a payload changed after signing', async () => {
    const [jwt, ...rest] = boundPresentation().split('~');
    const tampered = [withPayload(jwt!, (p) => ({ ...p, purpose: '出国' })), ...rest].join('~');
    expect(await verify(tampered)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });

  it('WRONG_TYPE: a record seal of the same department, and a proof re-signed as typ vc+sd-jwt', async () => {
    const sealed = createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'T', recordId: '1', fields: { a: 1 }, issuedAt: NOW });
    expect(await verify(presentSeal(sealed, ['a']))).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
    const [jwt, ...rest] = issueProofVc(base()).token.split('~');
    const header = { ...decodeSegment(jwt!.split('.')[0]!), typ: 'vc+sd-jwt' };
    expect(await verify([resign(jwt!, (p) => p, header), ...rest].join('~'))).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
    // And the seal verifier refuses a proof.
    expect(verifySeal(issueProofVc(base()).token, { keyStore: store, now: LATER })).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
  });

  it('UNKNOWN_KEY: a kid the keys do not hold', async () => {
    const [jwt, ...rest] = issueProofVc(base()).token.split('~');
    const header = { ...decodeSegment(jwt!.split('.')[0]!), kid: 'tax.seal.0000000000000000' };
    expect(await verify([resign(jwt!, (p) => p, header), ...rest].join('~'))).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
  });

  it('TAMPERED_DISCLOSURE: a disclosure altered, and one not among the signed digests', async () => {
    const parts = presentProof(issueProofVc(base()).token, { disclose: 'all' }).split('~');
    const [salt, name] = JSON.parse(Buffer.from(parts[3]!, 'base64url').toString('utf8')) as [string, string, unknown];
    const altered = Buffer.from(JSON.stringify([salt, name, true])).toString('base64url');
    expect(await verify([...parts.slice(0, 3), altered, ''].join('~'))).toMatchObject({ valid: false, reason: 'TAMPERED_DISCLOSURE' });
    const foreign = issueProofVc(base()).disclosures.idNumber!;
    expect(await verify([parts[0], foreign, ''].join('~'))).toMatchObject({ valid: false, reason: 'TAMPERED_DISCLOSURE' });
    expect(await verify([parts[0], parts[1], parts[1], ''].join('~'))).toMatchObject({ valid: false, reason: 'TAMPERED_DISCLOSURE' });
  });

  it('WRONG_HOLDER_KEY: a KB-JWT signed by another key', async () => {
    const presented = presentProof(issueProofVc(base({ holderJwk: holder.publicKey })).token, { disclose: 'all' });
    const kb = signHolderJwt('kb+jwt', { iat: LATER / 1000, aud: AUD, nonce: NONCE, sd_hash: decodeSegment(boundPresentation().split('~').pop()!.split('.')[1]!).sd_hash }, stranger.privateKey);
    expect(await verify(`${presented}${kb}`)).toMatchObject({ valid: false, reason: 'WRONG_HOLDER_KEY' });
  });

  it('MISSING_KEY_BINDING: a bound proof without its KB-JWT, and an unbound one where binding is required', async () => {
    expect(await verify(presentProof(issueProofVc(base({ holderJwk: holder.publicKey })).token, { disclose: 'all' }))).toMatchObject({ valid: false, reason: 'MISSING_KEY_BINDING' });
    const unbound = presentProof(issueProofVc(base()).token, { disclose: 'all' });
    expect(await verify(unbound)).toMatchObject({ valid: true, holderBound: false });
    expect(await verify(unbound, { requireHolderBinding: true })).toMatchObject({ valid: false, reason: 'MISSING_KEY_BINDING' });
  });

  it('WRONG_NONCE, WRONG_AUDIENCE', async () => {
    expect(await verify(boundPresentation(), { expectedNonce: 'other' })).toMatchObject({ valid: false, reason: 'WRONG_NONCE' });
    expect(await verify(boundPresentation(), { expectedAudience: 'https://other.example.cn' })).toMatchObject({ valid: false, reason: 'WRONG_AUDIENCE' });
  });

  it('SD_HASH_MISMATCH: a disclosure dropped after the holder signed the KB-JWT', async () => {
    const parts = boundPresentation().split('~');
    expect(parts).toHaveLength(5);
    expect(await verify([parts[0], parts[1], parts[2], parts[4]].join('~'))).toMatchObject({ valid: false, reason: 'SD_HASH_MISMATCH' });
  });

  it('EXPIRED and NOT_YET_VALID: the proof’s exp, its iat, an old KB-JWT', async () => {
    const presentation = presentProof(issueProofVc(base({ validitySeconds: 600 })).token, { disclose: 'all' });
    expect(await verify(presentation, { now: NOW + 600_000 + 59_000 })).toMatchObject({ valid: true });
    expect(await verify(presentation, { now: NOW + 600_000 + 60_000 })).toMatchObject({ valid: false, reason: 'EXPIRED' });
    expect(await verify(presentation, { now: NOW - 61_000 })).toMatchObject({ valid: false, reason: 'NOT_YET_VALID' });
    expect(await verify(boundPresentation(), { now: LATER + 361_000 })).toMatchObject({ valid: false, reason: 'EXPIRED' });
  });

  it('REVOKED, and STATUS_UNAVAILABLE for a list that cannot be fetched or does not verify', async () => {
    const presentation = presentProof(issueProofVc(base({ status: { idx: 1, uri: URI } })).token, { disclose: [] });
    expect(await verify(presentation, { statusList: { [URI]: statusToken([0, STATUS.INVALID]) } })).toMatchObject({ valid: false, reason: 'REVOKED' });
    expect(await verify(presentation, { statusList: {} })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE' });
    expect(await verify(presentation, { statusList: () => Promise.reject(new Error('connection refused')) })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE', detail: expect.stringContaining('connection refused') });
    expect(await verify(presentation, { statusList: () => new Promise<string>(() => undefined), statusTimeoutMs: 50 })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE' });
    const forged = withPayload(statusToken([0, 0]), (p) => p);
    expect(await verify(presentation, { statusList: { [URI]: `${forged.slice(0, -4)}AAAA` } })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE' });
    expect(await verify(presentation, { requireStatus: true })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE' });
    expect(await verify(presentProof(issueProofVc(base()).token, { disclose: [] }), { requireStatus: true })).toMatchObject({ valid: false, reason: 'STATUS_UNAVAILABLE' });
  });

  it('MALFORMED, never a throw, for anything that is not a presentation', async () => {
    const jwt = issueProofVc(base()).token.split('~')[0]!;
    const noExp = resign(jwt, ({ exp: _exp, ...p }) => p);
    const lies = resign(jwt, (p) => ({ ...p, holderBinding: 'cnf' }));
    for (const bad of [undefined, 42, '', 'a.b.c', jwt, `${jwt}~%%%~`, `${noExp}~`, `${lies}~`, `${jwt}~~x.y.z`]) {
      expect(await verify(bad as unknown as string)).toMatchObject({ valid: false, reason: 'MALFORMED' });
    }
  });
});

describe('proof bundles', () => {
  const market = () =>
    issueProofVc(base({ department: 'market-regulation', kind: 'ENTERPRISE_REGISTRATION_GOOD', subjectKind: 'ENTERPRISE', claims: { name: '某某有限公司', abnormal: false } })).token;
  const tax = () => issueProofVc(base({ subjectKind: 'ENTERPRISE', claims: { hasArrears: false } })).token;
  const bundle = (parts: string[]) => issueProofBundle({ keyStore: store, kind: 'ENTERPRISE_GOOD_STANDING', subject: '91370100MA3C000000', purpose: '办理贷款', parts, validitySeconds: 86_400, now: NOW });

  it('signs an envelope binding subject, purpose, time and each part, which verifies with its parts', async () => {
    const parts = [market(), tax()];
    const issued = bundle(parts);
    const [h, p] = issued.envelope.split('.');
    expect(decodeSegment(h!)).toMatchObject({ typ: 'datarun-proof-bundle+jwt', kid: store.currentKeyId(store.hubId, 'checkpoint') });
    expect(decodeSegment(p!)).toMatchObject({ iss: store.hubId, sub: '91370100MA3C000000', purpose: '办理贷款', kind: 'ENTERPRISE_GOOD_STANDING', exp: NOW / 1000 + 86_400, parts: [{ iss: 'market-regulation' }, { iss: 'tax', kind: 'NO_TAX_ARREARS' }] });
    const presented = parts.map((t) => presentProof(t, { disclose: 'all' }));
    const result = await verifyProofBundle(issued.envelope, presented, { keys: { jwks: store.publicJwks() }, now: LATER });
    expect(result).toMatchObject({ valid: true, subject: '91370100MA3C000000', parts: [{ department: 'market-regulation' }, { department: 'tax', disclosed: { hasArrears: false } }] });
  });

  it('refuses swapped, missing or reordered parts, a bad part, and a tampered envelope', async () => {
    const parts = [market(), tax()];
    const { envelope } = bundle(parts);
    const check = (e: string, ps: string[]) => verifyProofBundle(e, ps, { keys: keys(), now: LATER });
    expect(await check(envelope, [parts[0]!, tax()])).toMatchObject({ valid: false, reason: 'PART_MISMATCH', part: 1 });
    expect(await check(envelope, [parts[1]!, parts[0]!])).toMatchObject({ valid: false, reason: 'PART_MISMATCH', part: 0 });
    expect(await check(envelope, [parts[0]!])).toMatchObject({ valid: false, reason: 'PART_MISMATCH' });
    const [jwt, d1] = parts[1]!.split('~');
    const altered = Buffer.from(JSON.stringify(['s', 'hasArrears', true])).toString('base64url');
    expect(await check(envelope, [parts[0]!, `${jwt}~${altered}~`])).toMatchObject({ valid: false, reason: 'PART_INVALID', part: 1, partReason: 'TAMPERED_DISCLOSURE' });
    expect(await check(envelope, [parts[0]!, `${jwt}~${d1}~`])).toMatchObject({ valid: true });
    expect(await check(withPayload(envelope, (p) => ({ ...p, purpose: '出国' })), parts)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    expect(await verifyProofBundle(envelope, parts, { keys: keys(), now: NOW + 86_400_000 + 61_000 })).toMatchObject({ valid: false, reason: 'EXPIRED' });
  });

  it('refuses to bundle parts of another purpose, or outliving a part', () => {
    const other = issueProofVc(base({ purpose: '出国' })).token;
    expect(() => bundle([market(), other])).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
    const short = issueProofVc(base({ validitySeconds: 600 })).token;
    expect(() => bundle([short])).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
    expect(() => bundle([])).toThrow(expect.objectContaining({ code: 'PROOF_INPUT_INVALID' }));
  });
});
