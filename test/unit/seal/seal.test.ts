import { createHash, createHmac, generateKeyPairSync, webcrypto } from 'node:crypto';
import {
  SealInputError,
  UnknownOwnerError,
  createKeyStore,
  createReceiptSigner,
  createSealer,
  hashJson,
  hashText,
  presentSeal,
  presentSealForReply,
  verifySeal,
  type KeyStore,
  type PrivateJwk,
  type SealedRecord,
  type Sealer,
} from '../../../src/seal';
import { craftJws, decodeSegment, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const FIELDS = {
  idNumber: '371702199001011234',
  name: '张三',
  deedTaxPaid: true,
  paidAmount: 12345.67,
  paidAt: null,
  address: { city: '菏泽市', district: '牡丹区' },
};

const SUBJECT_SECRET = 'seal-subject-secret-of-this-test-0123456789';
/** The pseudonymous `sub` as the seal format defines it, computed here independently of src/seal. */
const pseudonym = (recordType: string, recordId: string): string => createHmac('sha256', SUBJECT_SECRET).update(`${recordType}:${recordId}`).digest('base64url');
const SUBJECT = pseudonym('DeedTaxPayment', 'DT-2025-0001');

let store: KeyStore;
let sealer: Sealer;
let sealed: SealedRecord;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(NOW - 86_400_000) });
  sealer = createSealer({ keyStore: store, subjectSecret: SUBJECT_SECRET });
  sealed = sealer.sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-2025-0001', fields: FIELDS, issuedAt: NOW });
});
afterAll(removeTempDirs);

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const verifyAtNow = (token: string) => verifySeal(token, { keyStore: store, now: NOW + 60_000 });

describe('record seals (SD-JWT)', () => {
  it('round-trips: every field disclosed verifies, with issuer, key, record type and id', () => {
    const result = verifyAtNow(presentSeal(sealed, Object.keys(FIELDS)));
    expect(result).toEqual({
      valid: true,
      issuer: 'tax',
      keyId: store.currentKeyId('tax', 'seal'),
      algorithm: 'ES256',
      issuedAt: new Date(NOW),
      recordType: 'DeedTaxPayment',
      subject: SUBJECT,
      recordId: SUBJECT,
      disclosed: FIELDS,
    });
  });

  it('signs only salted digests: the issuer JWT holds one sorted digest per field and no value', () => {
    const [h, p] = sealed.jwt.split('.');
    expect(decodeSegment(h!)).toEqual({ alg: 'ES256', kid: sealed.keyId, typ: 'datarun-seal+sd-jwt' });
    const payload = decodeSegment(p!);
    expect(Object.keys(payload)).toEqual(['iss', 'iat', 'vct', 'sub', '_sd_alg', '_sd']);
    expect(payload).toMatchObject({ iss: 'tax', iat: NOW / 1000, vct: 'DeedTaxPayment', sub: SUBJECT, _sd_alg: 'sha-256' });
    const digests = payload._sd as string[];
    expect(digests).toHaveLength(Object.keys(FIELDS).length);
    expect([...digests].sort()).toEqual(digests);
    expect(sealed.jwt).not.toContain(Buffer.from('371702').toString('base64url'));
    expect(Object.keys(sealed.disclosures)).toEqual(Object.keys(FIELDS));
  });

  it('signs a pseudonymous sub, HMAC-SHA256(secret, recordType:recordId): the record id appears nowhere in the seal', () => {
    expect(sealed.subject).toBe(SUBJECT);
    expect(SUBJECT).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const everything = presentSeal(sealed, Object.keys(FIELDS));
    const decoded = everything
      .split('~')
      .filter(Boolean)
      .flatMap((part) => part.split('.'))
      .map((segment) => Buffer.from(segment, 'base64url').toString('utf8'))
      .join('\n');
    expect(decoded).not.toContain('DT-2025-0001');
    expect(JSON.stringify(sealed)).not.toContain('DT-2025-0001');
    // The same record gets the same sub from every sealer holding the secret; another type or id, another sub.
    const again = createSealer({ keyStore: store, subjectSecret: SUBJECT_SECRET }).sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-2025-0001', fields: { paid: true } });
    expect(again.subject).toBe(SUBJECT);
    expect(sealer.subjectOf('DeedTaxPayment', 'DT-2025-0002')).toBe(pseudonym('DeedTaxPayment', 'DT-2025-0002'));
    expect(sealer.subjectOf('TaxPayment', 'DT-2025-0001')).not.toBe(SUBJECT);
    // Without a secret, a sealer keys subjects with a random one of its own: never the id.
    const random = createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-2025-0001', fields: {} });
    expect(random.subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(random.subject).not.toBe(SUBJECT);
    expect(() => createSealer({ keyStore: store, subjectSecret: 'short' })).toThrow(SealInputError);
  });

  it('still verifies a seal made before sub was pseudonymous (sub is opaque to verifiers)', () => {
    const payload = { ...decodeSegment(sealed.jwt.split('.')[1]!), sub: 'DT-2025-0001' };
    const jwt = craftJws({ alg: 'ES256', kid: sealed.keyId, typ: 'datarun-seal+sd-jwt' }, payload, privateJwkOf(store, 'tax', 'seal'));
    expect(verifyAtNow(`${jwt}~${sealed.disclosures.name}~`)).toMatchObject({ valid: true, subject: 'DT-2025-0001', disclosed: { name: '张三' } });
  });

  it('discloses exactly the named fields, and nothing when none is named', () => {
    const token = presentSeal(sealed, ['name', 'deedTaxPaid', 'name', 'notAField']);
    expect(token.split('~')).toHaveLength(4);
    expect(token.endsWith('~')).toBe(true);
    expect(verifyAtNow(token)).toMatchObject({ valid: true, disclosed: { name: '张三', deedTaxPaid: true } });
    expect(Object.keys((verifyAtNow(token) as { disclosed: object }).disclosed)).toEqual(['name', 'deedTaxPaid']);
    expect(verifyAtNow(presentSeal(sealed, []))).toMatchObject({ valid: true, disclosed: {} });
  });

  it('follows the RFC 9901 digest rule, checked by an independent implementation: SHA-256 over the ASCII base64url disclosure', async () => {
    const token = presentSeal(sealed, Object.keys(FIELDS));
    const [jwt, ...rest] = token.split('~');
    const disclosures = rest.slice(0, -1);
    const payload = decodeSegment(jwt!.split('.')[1]!);
    for (const disclosure of disclosures) {
      const digest = createHash('sha256').update(Buffer.from(disclosure, 'ascii')).digest('base64url');
      expect(payload._sd).toContain(digest);
      const [salt, name, value] = JSON.parse(Buffer.from(disclosure, 'base64url').toString('utf8')) as [string, string, unknown];
      expect(Buffer.from(salt, 'base64url')).toHaveLength(16);
      expect(value).toEqual(FIELDS[name as keyof typeof FIELDS]);
    }
    // The issuer signature verifies with WebCrypto and the published JWK alone.
    const jwk = store.publicJwks().keys.find((k) => k.kid === sealed.keyId)!;
    const key = await webcrypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: (jwk as { y: string }).y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    const [h, p, s] = jwt!.split('.');
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(s!, 'base64url'), Buffer.from(`${h}.${p}`))).toBe(true);
  });

  it('verifies against the published JWKS as well as the key store, and after a round trip through JSON (the record cache)', () => {
    const cached = JSON.parse(JSON.stringify(sealed)) as SealedRecord;
    const jwks = JSON.parse(JSON.stringify(store.publicJwks())) as ReturnType<KeyStore['publicJwks']>;
    expect(verifySeal(presentSeal(cached, ['name']), { jwks, now: NOW })).toMatchObject({ valid: true, disclosed: { name: '张三' } });
  });

  it('says why a JWKS key it left out cannot verify, instead of only "unknown signing key"', () => {
    const token = presentSeal(sealed, ['name']);
    const published = JSON.parse(JSON.stringify(store.publicJwks())) as { keys: Record<string, unknown>[] };
    const withKey = (change: (key: Record<string, unknown>) => void) => ({
      keys: published.keys.map((k) => {
        if (k.kid !== sealed.keyId) return k;
        const copy = JSON.parse(JSON.stringify(k)) as Record<string, unknown>;
        change(copy);
        return copy;
      }),
    });
    const refused = (jwks: unknown) => verifySeal(token, { jwks: jwks as ReturnType<KeyStore['publicJwks']>, now: NOW });
    const prefix = `seal: unknown signing key: the JWKS's key ${JSON.stringify(sealed.keyId)} was left out`;
    // The key's x with another P-256 key's y: not a point on the curve.
    const otherY = (generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as { y: string }).y;
    expect(refused(withKey((k) => (k.y = otherY)))).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY', message: `${prefix} (its x and y are not a point on its curve)`, keyId: sealed.keyId });
    expect(refused(withKey((k) => delete k.datarun))).toMatchObject({ reason: 'UNKNOWN_KEY', message: `${prefix} (its member datarun is missing or not what a datarun key holds)` });
    expect(refused(withKey((k) => (k.alg = 'EdDSA')))).toMatchObject({ reason: 'UNKNOWN_KEY', message: `${prefix} (its kty, crv, x and y are not a public key for EdDSA)` });
    // A kid the JWKS does not hold at all: the plain message.
    expect(refused({ keys: published.keys.filter((k) => k.kid !== sealed.keyId) })).toMatchObject({ reason: 'UNKNOWN_KEY', message: 'seal: unknown signing key' });
    // A good key after a broken one of the same kid is used.
    const broken = JSON.parse(JSON.stringify(published.keys.find((k) => k.kid === sealed.keyId))) as Record<string, unknown>;
    delete broken.datarun;
    expect(refused({ keys: [broken, ...published.keys] })).toMatchObject({ valid: true });
  });

  it('refuses a disclosure whose value was changed (DISCLOSURE_NOT_SIGNED)', () => {
    const [salt, name] = JSON.parse(Buffer.from(sealed.disclosures.name!, 'base64url').toString('utf8')) as [string, string];
    const forged = b64json([salt, name, '李四']);
    expect(verifyAtNow(`${sealed.jwt}~${forged}~`)).toEqual({ valid: false, reason: 'DISCLOSURE_NOT_SIGNED', message: 'seal: disclosure is not covered by the signature', keyId: sealed.keyId, disclosed: {} });
  });

  it('refuses a disclosure that is not a base64url JSON [salt, name, value] (MALFORMED_DISCLOSURE)', () => {
    for (const bad of ['!!', b64json({ name: 'x' }), b64json(['salt', 'value-only']), b64json(['salt', '_sd', 1]), b64json(['salt', 'iss', 'real-estate'])]) {
      expect(verifyAtNow(`${sealed.jwt}~${bad}~`)).toMatchObject({ valid: false, reason: 'MALFORMED_DISCLOSURE', message: 'seal: disclosure is malformed' });
    }
  });

  it('refuses a disclosure given twice (DUPLICATE_DISCLOSURE)', () => {
    const d = sealed.disclosures.name!;
    expect(verifyAtNow(`${sealed.jwt}~${d}~${d}~`)).toMatchObject({ valid: false, reason: 'DUPLICATE_DISCLOSURE', message: 'seal: disclosure appears more than once' });
  });

  it('refuses a tampered issuer JWT (BAD_SIGNATURE)', () => {
    const [h, p, s] = sealed.jwt.split('.');
    const payload = { ...decodeSegment(p!), sub: 'DT-2025-9999' };
    expect(verifyAtNow(`${h}.${b64json(payload)}.${s}~`)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'seal: signature verification failed' });
  });

  it('refuses a seal signed by a key that is not the department\'s: an untrusted key (BAD_SIGNATURE), another department\'s (WRONG_ISSUER), the hub\'s receipt key (WRONG_KEY_USE)', () => {
    const payload = decodeSegment(sealed.jwt.split('.')[1]!);
    const untrusted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as PrivateJwk;
    const header = (kid: string) => ({ alg: 'ES256', kid, typ: 'datarun-seal+sd-jwt' });
    expect(verifyAtNow(`${craftJws(header(sealed.keyId), payload, untrusted)}~`)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    const realEstate = privateJwkOf(store, 'real-estate', 'seal');
    expect(verifyAtNow(`${craftJws(header(realEstate.kid!), payload, realEstate)}~`)).toMatchObject({ valid: false, reason: 'WRONG_ISSUER', message: 'seal: signing key does not belong to the issuer' });
    const hub = privateJwkOf(store, 'datarun-hub', 'receipt');
    expect(verifyAtNow(`${craftJws(header(hub.kid!), { ...payload, iss: 'datarun-hub' }, hub)}~`)).toMatchObject({ valid: false, reason: 'WRONG_KEY_USE', message: 'seal: signing key is not for this kind of token' });
  });

  it('refuses an unknown kid, a receipt presented as a seal, and a key-binding JWT it cannot check', () => {
    expect(verifyAtNow(`${craftJws({ alg: 'ES256', kid: 'tax.seal.unknown', typ: 'datarun-seal+sd-jwt' }, {}, privateJwkOf(store, 'tax', 'seal'))}~`)).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY', message: 'seal: unknown signing key' });
    const receipt = createReceiptSigner({ keyStore: store }).signReceipt({ requestId: 'r1', consumer: 'tax-bureau', purpose: 'P', case: 'C', operator: 'o', time: new Date(NOW), queryHash: hashText('{ a }'), dataHash: hashJson({}) }, NOW);
    expect(verifyAtNow(`${receipt}~`)).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
    expect(verifyAtNow(`${presentSeal(sealed, ['name'])}eyJhbGciOiJFUzI1NiJ9.e30.AA`)).toMatchObject({ valid: false, reason: 'MALFORMED' });
  });

  it('never throws for a bad token', () => {
    for (const token of ['', '~', '~~', 'a~b~', sealed.jwt, `${sealed.jwt}~~`, undefined as unknown as string, 42 as unknown as string]) {
      expect(() => verifyAtNow(token)).not.toThrow();
      expect(verifyAtNow(token).valid).toBe(false);
    }
  });

  it('for a reply, discloses only the fields shown exactly as sealed: never a masked or reshaped value', () => {
    const reply = { idNumber: '371702********1234', name: '张三', deedTaxPaid: true, address: { city: '菏泽市' } };
    const result = verifyAtNow(presentSealForReply(sealed, reply));
    expect(result).toMatchObject({ valid: true });
    expect((result as { disclosed: object }).disclosed).toEqual({ name: '张三', deedTaxPaid: true });
  });

  it('refuses fields that would clash with the seal\'s own claims, and values that are not JSON', () => {
    const seal = (fields: Record<string, unknown>) => () => sealer.sealRecord({ department: 'tax', recordType: 'T', recordId: '1', fields });
    expect(seal({ iss: 'x' })).toThrow(new SealInputError('field "iss" has a reserved name'));
    expect(seal({ _sd: [] })).toThrow(expect.objectContaining({ code: 'ERR_SEAL_INPUT_INVALID' }));
    expect(seal({ when: new Date(0) })).toThrow(new SealInputError('field "when" is not JSON data'));
    expect(() => sealer.sealRecord({ department: 'one-window-hall', recordType: 'T', recordId: '1', fields: {} })).toThrow(new UnknownOwnerError('unknown department: one-window-hall'));
  });
});
