import { createHash, createPrivateKey, generateKeyPairSync, sign, verify, type JsonWebKey } from 'node:crypto';
import * as fc from 'fast-check';
import { createMemoryReplayGuard } from '../../../src/state';
import {
  UnauthenticatedError,
  createCheckpointSigner,
  createConsentSigner,
  createConsentVerifier,
  createKeyStore,
  createReceiptSigner,
  createRequestSigner,
  createRequestVerifier,
  createSealer,
  hashJson,
  hashText,
  presentSeal,
  verifyCheckpoint,
  verifyReceipt,
  verifySeal,
  type KeyStore,
  type PrivateJwk,
  type ReceiptInput,
  type RequestVerifier,
} from '../../../src/seal';
import { ALGORITHM_SPECS, isLowS, toLowS } from '../../../src/seal/jws';
import { craftJws, highSVariant, isHighS, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const SEC = NOW / 1000;
const BODY = Buffer.from(JSON.stringify({ query: '{ deedTax(unitNumber: "371702-001") { paid } }', variables: {} }));
const CONTEXT = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'YCTB-2025-000123', operator: 'wang.li' };
const RECEIPT: ReceiptInput = {
  requestId: 'req-01J2',
  consumer: 'real-estate-centre',
  purpose: 'PROPERTY_TRANSFER',
  case: 'BDC-2025-000042',
  operator: 'zhao.min',
  time: new Date(NOW),
  queryHash: hashText('{ deedTax { paid } }'),
  variablesHash: hashJson({}),
  dataHash: hashJson({ deedTax: { paid: true } }),
};

let store: KeyStore;
let es384Store: KeyStore;
let hallKey: PrivateJwk;

beforeAll(async () => {
  const keysMade = new Date(NOW - 86_400_000);
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: keysMade });
  es384Store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, 
    now: keysMade,
    owners: [
      { id: 'datarun-hub', kind: 'hub', name: 'hub', alg: 'ES384' },
      { id: 'tax', kind: 'department', name: 'Tax', alg: 'ES384' },
      { id: 'one-window-hall', kind: 'consumer', name: 'One-window hall', roles: ['consumer', 'consent-issuer'], custody: true, alg: 'ES384' },
    ],
  });
  hallKey = privateJwkOf(store, 'one-window-hall');
});
afterAll(removeTempDirs);

/** A request verifier whose replay guard and clock are at `now`. */
function requestVerifier(keyStore: KeyStore, now: number): RequestVerifier {
  return createRequestVerifier({ keyStore, replayGuard: createMemoryReplayGuard({ now: () => now, knownSince: 0 }), clockSkewSec: 60 });
}

function requestClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: 'one-window-hall',
    aud: 'datarun-hub',
    iat: SEC,
    exp: SEC + 60,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    bh: createHash('sha256').update(BODY).digest('base64url'),
    purpose: 'PROPERTY_TRANSFER',
    case: 'YCTB-2025-000123',
    operator: 'wang.li',
    ...overrides,
  };
}

async function refusal(verifier: RequestVerifier, token: string, now: number): Promise<UnauthenticatedError> {
  const error = await verifier.verify(token, BODY, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnauthenticatedError)) throw new Error(`expected an UnauthenticatedError, but got: ${String(error)}`);
  expect(error.code).toBe('ERR_UNAUTHENTICATED');
  return error;
}

/** Issuer JWTs of each kind, crafted with the hub's or a department's own key, with extra claims. */
const issued = {
  receipt: (claims: Record<string, unknown>) =>
    craftJws({ alg: 'ES256', kid: store.currentKeyId('datarun-hub', 'receipt'), typ: 'datarun-receipt+jwt' }, { iss: 'datarun-hub', iat: SEC, ver: 1, ...RECEIPT, time: '2025-06-01T09:00:00.000Z', ...claims }, privateJwkOf(store, 'datarun-hub', 'receipt')),
  checkpoint: (claims: Record<string, unknown>) => craftJws({ alg: 'ES256', kid: store.currentKeyId('datarun-hub', 'checkpoint'), typ: 'datarun-checkpoint+jwt' }, { iss: 'datarun-hub', iat: SEC, seq: 7, head: 'h', ...claims }, privateJwkOf(store, 'datarun-hub', 'checkpoint')),
  seal: (claims: Record<string, unknown>) =>
    `${craftJws({ alg: 'ES256', kid: store.currentKeyId('tax', 'seal'), typ: 'datarun-seal+sd-jwt' }, { iss: 'tax', iat: SEC, vct: 'DeedTaxPayment', sub: 'x', _sd_alg: 'sha-256', _sd: [], ...claims }, privateJwkOf(store, 'tax', 'seal'))}~`,
};

const verifiers = {
  receipt: (token: string, now: number) => verifyReceipt(token, { keyStore: store, now }),
  checkpoint: (token: string, now: number) => verifyCheckpoint(token, { keyStore: store, now }),
  seal: (token: string, now: number) => verifySeal(token, { keyStore: store, now }),
};

describe('nbf: a token is refused before its time, every verifier alike', () => {
  it('refuses a request token whose nbf is beyond the clock skew (NOT_YET_VALID) and accepts it once the time has come', async () => {
    const token = craftJws({ alg: 'ES256', kid: hallKey.kid, typ: 'datarun-request+jwt' }, requestClaims({ nbf: SEC + 120, exp: SEC + 240 }), hallKey);
    const error = await refusal(requestVerifier(store, NOW), token, NOW);
    expect([error.reason, error.message]).toEqual(['NOT_YET_VALID', 'request token is not yet valid']);
    const later = NOW + 120_000;
    await expect(requestVerifier(store, later).verify(token, BODY, later)).resolves.toMatchObject({ consumer: 'one-window-hall', claims: { nbf: SEC + 120 } });
  });

  it('accepts a request token whose nbf is ahead by less than the clock skew', async () => {
    const token = craftJws({ alg: 'ES256', kid: hallKey.kid, typ: 'datarun-request+jwt' }, requestClaims({ nbf: SEC + 30 }), hallKey);
    await expect(requestVerifier(store, NOW).verify(token, BODY, NOW)).resolves.toMatchObject({ consumer: 'one-window-hall' });
  });

  it('refuses a request token with a non-numeric nbf (MALFORMED, claim nbf)', async () => {
    for (const nbf of ['1748768400', null, true, [SEC]]) {
      const token = craftJws({ alg: 'ES256', kid: hallKey.kid, typ: 'datarun-request+jwt' }, requestClaims({ nbf }), hallKey);
      const error = await refusal(requestVerifier(store, NOW), token, NOW);
      expect([error.reason, error.message, error.claim]).toEqual(['MALFORMED', 'request token claim "nbf" is malformed', 'nbf']);
    }
  });

  for (const kind of ['receipt', 'checkpoint', 'seal'] as const) {
    it(`refuses a ${kind} whose nbf is beyond the clock skew (NOT_YET_VALID) and accepts it once the time has come`, () => {
      const token = issued[kind]({ nbf: SEC + 3600 });
      expect(verifiers[kind](token, NOW)).toMatchObject({ valid: false, reason: 'NOT_YET_VALID', message: `${kind}: token is not yet valid (issued in the future or before its nbf)` });
      expect(verifiers[kind](token, NOW + 3600_000 - 60_000)).toMatchObject({ valid: true });
      expect(verifiers[kind](issued[kind]({ nbf: SEC + 30 }), NOW)).toMatchObject({ valid: true });
    });

    it(`refuses a ${kind} with a non-numeric nbf (MALFORMED)`, () => {
      for (const nbf of ['soon', null, { at: SEC }]) expect(verifiers[kind](issued[kind]({ nbf }), NOW)).toMatchObject({ valid: false, reason: 'MALFORMED' });
    });
  }
});

describe('high-S ECDSA signatures are refused', () => {
  it('a high-S variant (S\u2032 = n \u2212 S) is mathematically valid, so only its form refuses it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const data = Buffer.from('x');
    const signature = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const flipped = Buffer.from(highSVariant(`a.b.${signature.toString('base64url')}`).split('.')[2]!, 'base64url');
    expect(isHighS(flipped)).toBe(true);
    expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, flipped)).toBe(true);
  });

  it('refuses a request token in high-S form (BAD_SIGNATURE, "signature is not in low-S form") whose low-S original is accepted', async () => {
    for (const keyStore of [store, es384Store]) {
      const signer = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: privateJwkOf(keyStore, 'one-window-hall') });
      const token = signer.sign(BODY, CONTEXT, NOW);
      const verifier = requestVerifier(keyStore, NOW);
      const error = await refusal(verifier, highSVariant(token), NOW);
      expect([error.reason, error.message]).toEqual(['BAD_SIGNATURE', 'signature is not in low-S form']);
      await expect(verifier.verify(token, BODY, NOW)).resolves.toMatchObject({ consumer: 'one-window-hall' });
    }
  });

  it('refuses a receipt and a checkpoint in high-S form (BAD_SIGNATURE) whose low-S originals verify', () => {
    for (const keyStore of [store, es384Store]) {
      const receipt = createReceiptSigner({ keyStore }).signReceipt(RECEIPT, NOW);
      expect(verifyReceipt(receipt, { keyStore, now: NOW })).toMatchObject({ valid: true });
      expect(verifyReceipt(highSVariant(receipt), { keyStore, now: NOW })).toEqual({ valid: false, reason: 'BAD_SIGNATURE', message: 'receipt: signature is not in low-S form', keyId: keyStore.currentKeyId('datarun-hub', 'receipt') });
      const checkpoint = createCheckpointSigner({ keyStore }).signCheckpoint({ seq: 1, head: 'h' }, NOW);
      expect(verifyCheckpoint(checkpoint, { keyStore, now: NOW })).toMatchObject({ valid: true });
      expect(verifyCheckpoint(highSVariant(checkpoint), { keyStore, now: NOW })).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'checkpoint: signature is not in low-S form' });
    }
  });

  it('refuses a seal in high-S form (BAD_SIGNATURE) whose low-S original verifies, against the key store and the JWKS alike', () => {
    for (const keyStore of [store, es384Store]) {
      const sealed = createSealer({ keyStore }).sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-1', fields: { paid: true }, issuedAt: NOW });
      const token = presentSeal(sealed, ['paid']);
      for (const keys of [{ keyStore }, { jwks: keyStore.publicJwks() }]) {
        expect(verifySeal(token, { ...keys, now: NOW })).toMatchObject({ valid: true, disclosed: { paid: true } });
        expect(verifySeal(highSVariant(token), { ...keys, now: NOW })).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'seal: signature is not in low-S form', disclosed: {} });
      }
    }
  });

  it('refuses a consent in high-S form (BAD_SIGNATURE) whose low-S original verifies', () => {
    const consent = createConsentSigner({ issuer: 'one-window-hall', privateJwk: hallKey }).sign({ subject: '11010519491231002X', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 600_000 }, NOW);
    const check = createConsentVerifier({ keyStore: store, now: () => NOW });
    expect(check(consent)).toMatchObject({ valid: true });
    expect(check(highSVariant(consent))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });

  it('refuses a consent whose nbf is still to come, and accepts it once the time has come', () => {
    const consent = createConsentSigner({ issuer: 'one-window-hall', privateJwk: hallKey }).sign({ subject: '11010519491231002X', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 3_600_000 }, NOW);
    // Re-signed with an nbf ten minutes ahead (craftJws signs in low-S form with the hall's key).
    const [h, p] = consent.split('.');
    const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')), nbf: Math.floor(NOW / 1000) + 600 };
    const later = craftJws(JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')), payload, hallKey);
    expect(createConsentVerifier({ keyStore: store, now: () => NOW })(later)).toMatchObject({ valid: false, reason: 'NOT_YET_VALID' });
    expect(createConsentVerifier({ keyStore: store, now: () => NOW + 601_000 })(later)).toMatchObject({ valid: true });
  });
});

describe('every signer of the project signs in low-S form', () => {
  const signatureOf = (token: string): Buffer => Buffer.from(token.split('~')[0]!.split('.')[2]!, 'base64url');
  const text = fc.string({ minLength: 1, maxLength: 40 });

  it('node:crypto alone does produce high-S signatures (so the property below can fail)', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signatures = Array.from({ length: 200 }, (_, i) => sign('sha256', Buffer.from(String(i)), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    expect(signatures.some(isHighS)).toBe(true);
  });

  it('request tokens (ES256 and ES384): 200 signatures each, all low-S', () => {
    const es384Jwk = { ...(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' }) as JsonWebKey), kid: 'k384', alg: 'ES384' } as PrivateJwk;
    expect(createPrivateKey({ key: es384Jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    for (const privateJwk of [hallKey, es384Jwk]) {
      const signer = createRequestSigner({ consumerId: 'one-window-hall', privateJwk });
      fc.assert(
        fc.property(text, text, (body, operator) => !isHighS(signatureOf(signer.sign(body, { ...CONTEXT, operator }, NOW)))),
        { numRuns: 200 },
      );
    }
  });

  it('receipts, checkpoints, seals and consents: 200 signatures each, all low-S', () => {
    const receipts = createReceiptSigner({ keyStore: store });
    const checkpoints = createCheckpointSigner({ keyStore: es384Store });
    const sealer = createSealer({ keyStore: store });
    const consents = createConsentSigner({ issuer: 'one-window-hall', privateJwk: hallKey });
    fc.assert(
      fc.property(text, fc.nat(), (value, n) => {
        const tokens = [
          receipts.signReceipt({ ...RECEIPT, operator: value }, NOW),
          checkpoints.signCheckpoint({ seq: n, head: value }, NOW),
          sealer.sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: `DT-${n}`, fields: { value }, issuedAt: NOW }).jwt,
          consents.sign({ subject: value, purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 600_000 }, NOW),
        ];
        return tokens.every((token) => !isHighS(signatureOf(token)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('the low-S form, computed on bytes', () => {
  // The reference: S and n − S as numbers.
  const numberOf = (bytes: Buffer): bigint => BigInt(`0x${bytes.toString('hex') || '0'}`);
  const cases = (['ES256', 'ES384'] as const).map((alg) => ({ alg, spec: ALGORITHM_SPECS[alg] }));

  it.each(cases)('$alg: isLowS is S ≤ n/2 and toLowS gives (R, n − S) for a high S, for any R and S below n', ({ alg, spec }) => {
    const half = spec.signatureLength / 2;
    const order = spec.order!;
    // S drawn uniformly, and S around n/2 where the two halves meet.
    const edge = fc.bigInt({ min: (order >> 1n) - 300n, max: (order >> 1n) + 300n });
    const anyS = fc.bigInt({ min: 1n, max: order - 1n });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: half, maxLength: half }), fc.oneof(anyS, edge), (r, s) => {
        const signature = Buffer.concat([Buffer.from(r), Buffer.from(s.toString(16).padStart(half * 2, '0'), 'hex')]);
        const low = s <= order >> 1n;
        expect(isLowS(alg, signature)).toBe(low);
        const lowered = toLowS(alg, signature);
        expect(lowered.subarray(0, half)).toEqual(Buffer.from(r));
        expect(numberOf(lowered.subarray(half))).toBe(low ? s : order - s);
        expect(isLowS(alg, lowered)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves EdDSA signatures and signatures of a wrong length as they are', () => {
    const ed = Buffer.alloc(64, 0xff);
    expect([isLowS('EdDSA', ed), toLowS('EdDSA', ed)]).toEqual([true, ed]);
    const short = Buffer.alloc(63, 0xff);
    expect(toLowS('ES256', short)).toBe(short);
  });
});
