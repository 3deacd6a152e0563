import {
  SealInputError,
  createCheckpointSigner,
  createKeyStore,
  createReceiptSigner,
  hashJson,
  hashText,
  verifyCheckpoint,
  verifyReceipt,
  type KeyStore,
  type ReceiptInput,
} from '../../../src/seal';
import { craftJws, decodeSegment, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const QUERY = '{ deedTax(unitNumber: "371702-001") { paid } }';
const VARIABLES = { unitNumber: '371702-001' };
const DATA = { deedTax: { paid: true } };
const INPUT: ReceiptInput = {
  requestId: 'req-01J2',
  consumer: 'real-estate-centre',
  purpose: 'PROPERTY_TRANSFER',
  case: 'BDC-2025-000042',
  operator: 'zhao.min',
  time: new Date(NOW),
  queryHash: hashText(QUERY),
  variablesHash: hashJson(VARIABLES),
  dataHash: hashJson(DATA),
  auditSeq: 1042,
};

let store: KeyStore;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(NOW - 86_400_000) });
});
afterAll(removeTempDirs);

describe('receipts', () => {
  it('round-trips: the hub signs a receipt that verifies against its published JWKS', () => {
    const token = createReceiptSigner({ keyStore: store }).signReceipt(INPUT, NOW);
    expect(decodeSegment(token.split('.')[0]!)).toEqual({ alg: 'ES256', kid: store.currentKeyId('datarun-hub', 'receipt'), typ: 'datarun-receipt+jwt' });
    const result = verifyReceipt(token, { jwks: store.publicJwks(), now: NOW + 1000 });
    expect(result).toEqual({
      valid: true,
      issuer: 'datarun-hub',
      keyId: store.currentKeyId('datarun-hub', 'receipt'),
      algorithm: 'ES256',
      issuedAt: new Date(NOW),
      receipt: { iss: 'datarun-hub', iat: NOW / 1000, ver: 1, ...INPUT, time: '2025-06-01T09:00:00.000Z' },
    });
  });

  it('signs the format version into every receipt and refuses a version it does not know (UNSUPPORTED_VERSION)', () => {
    const token = createReceiptSigner({ keyStore: store }).signReceipt(INPUT, NOW);
    expect(decodeSegment(token.split('.')[1]!)).toMatchObject({ ver: 1 });
    const key = privateJwkOf(store, 'datarun-hub', 'receipt');
    const claims = { ...(decodeSegment(token.split('.')[1]!) as Record<string, unknown>) };
    const header = { alg: 'ES256', kid: key.kid, typ: 'datarun-receipt+jwt' };
    for (const ver of [2, '1', null]) {
      expect(verifyReceipt(craftJws(header, { ...claims, ver }, key), { keyStore: store, now: NOW })).toEqual({
        valid: false,
        reason: 'UNSUPPORTED_VERSION',
        message: 'receipt: token format version is not supported',
        keyId: key.kid,
      });
    }
    // Receipts signed before the claim existed carry none: they are version 1.
    const { ver: _ver, ...legacy } = claims;
    expect(verifyReceipt(craftJws(header, legacy, key), { keyStore: store, now: NOW })).toMatchObject({ valid: true, receipt: { requestId: INPUT.requestId } });
  });

  it('checks the receipt against the reply in hand (HASH_MISMATCH)', () => {
    const token = createReceiptSigner({ keyStore: store }).signReceipt(INPUT, NOW);
    const options = { keyStore: store, now: NOW };
    expect(verifyReceipt(token, { ...options, expected: { dataHash: hashJson(DATA), queryHash: hashText(QUERY) } }).valid).toBe(true);
    expect(verifyReceipt(token, { ...options, expected: { dataHash: hashJson({ deedTax: { paid: false } }) } })).toEqual({
      valid: false,
      reason: 'HASH_MISMATCH',
      message: 'receipt: receipt does not match the reply',
      keyId: store.currentKeyId('datarun-hub', 'receipt'),
    });
  });

  it('refuses a tampered receipt (BAD_SIGNATURE)', () => {
    const [h, p, s] = createReceiptSigner({ keyStore: store }).signReceipt(INPUT, NOW).split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeSegment(p!), consumer: 'tax-bureau' })).toString('base64url');
    expect(verifyReceipt(`${h}.${forged}.${s}`, { keyStore: store, now: NOW })).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE', message: 'receipt: signature verification failed' });
  });

  it('refuses a receipt signed by a department\'s seal key (WRONG_KEY_USE) and a seal typ (WRONG_TYPE)', () => {
    const tax = privateJwkOf(store, 'tax', 'seal');
    const payload = { iss: 'tax', iat: NOW / 1000, ...INPUT, time: 'x' };
    expect(verifyReceipt(craftJws({ alg: 'ES256', kid: tax.kid, typ: 'datarun-receipt+jwt' }, payload, tax), { keyStore: store, now: NOW })).toMatchObject({ valid: false, reason: 'WRONG_KEY_USE' });
    expect(verifyReceipt(craftJws({ alg: 'ES256', kid: tax.kid, typ: 'datarun-seal+sd-jwt' }, payload, tax), { keyStore: store, now: NOW })).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
  });

  it('refuses to sign a receipt whose hashes are not base64url SHA-256', () => {
    expect(() => createReceiptSigner({ keyStore: store }).signReceipt({ ...INPUT, dataHash: 'abc' })).toThrow(new SealInputError('expected dataHash to be a base64url SHA-256'));
  });
});

describe('audit checkpoints', () => {
  it('round-trips a checkpoint signed by the hub\'s checkpoint key, which cannot pass as a receipt', () => {
    const token = createCheckpointSigner({ keyStore: store }).signCheckpoint({ seq: 1042, head: hashText('chain head'), iss: 'forged' }, NOW);
    expect(verifyCheckpoint(token, { jwks: store.publicJwks(), now: NOW })).toMatchObject({ valid: true, issuer: 'datarun-hub', claims: { iss: 'datarun-hub', seq: 1042 } });
    expect(verifyReceipt(token, { keyStore: store, now: NOW })).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
  });
});
