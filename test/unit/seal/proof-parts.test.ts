/**
 * The seal module's parts for proofs: department statements (seal key, own typ, seal types
 * refused), SD-JWT disclosures, and holder-key JWTs (algorithm from the bound key, no key headers).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createDepartmentStatementSigner, createDisclosure, decodeDisclosure, holderPublicJwk, signHolderJwt, verifyDepartmentStatement, verifyHolderJwt, type KeyStore } from '../../../src/seal';
import { demoKeyStore, removeTempDirs, unsignedJws } from './fixture';

let store: KeyStore;
beforeAll(async () => {
  store = await demoKeyStore();
});
afterAll(removeTempDirs);

describe('proof parts of src/seal', () => {
  it('department statements: signed with the seal key, verified with typ, seal types refused', () => {
    const signer = createDepartmentStatementSigner({ keyStore: store, typ: 'dc+sd-jwt' });
    const { token, kid } = signer.sign('tax', { a: 1 });
    expect(kid).toBe(store.currentKeyId('tax', 'seal'));
    expect(verifyDepartmentStatement(token, 'dc+sd-jwt', { keyStore: store })).toMatchObject({ valid: true, issuer: 'tax', claims: { a: 1 } });
    expect(verifyDepartmentStatement(token, 'other+jwt', { keyStore: store })).toMatchObject({ valid: false, reason: 'WRONG_TYPE' });
    expect(() => createDepartmentStatementSigner({ keyStore: store, typ: 'datarun-seal+sd-jwt' })).toThrow(expect.objectContaining({ code: 'ERR_SEAL_INPUT_INVALID' }));
  });

  it('disclosures round-trip; anything else decodes to undefined', () => {
    const d = createDisclosure('properties', [{ id: 1 }]);
    expect(decodeDisclosure(d.encoded)).toMatchObject({ name: 'properties', value: [{ id: 1 }], digest: d.digest });
    for (const bad of ['', '%%', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["s","v"]').toString('base64url')]) expect(decodeDisclosure(bad)).toBeUndefined();
    expect(() => createDisclosure('_sd', 1)).toThrow(expect.objectContaining({ code: 'ERR_SEAL_INPUT_INVALID' }));
  });

  it('holder JWTs verify with the bound key only, its algorithm, and no key header', () => {
    for (const pair of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('ed25519')]) {
      const jwk = holderPublicJwk(pair.publicKey);
      const token = signHolderJwt('kb+jwt', { nonce: 'n' }, pair.privateKey);
      expect(verifyHolderJwt(token, 'kb+jwt', jwk)).toMatchObject({ ok: true, payload: { nonce: 'n' } });
      expect(verifyHolderJwt(token, 'other', jwk)).toMatchObject({ ok: false, reason: 'WRONG_TYPE' });
    }
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifyHolderJwt(signHolderJwt('kb+jwt', {}, a.privateKey), 'kb+jwt', holderPublicJwk(b.publicKey))).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyHolderJwt(unsignedJws({ alg: 'none', typ: 'kb+jwt' }, {}), 'kb+jwt', holderPublicJwk(a.publicKey))).toMatchObject({ ok: false, reason: 'BAD_ALGORITHM' });
    expect(verifyHolderJwt(unsignedJws({ alg: 'ES256', typ: 'kb+jwt', kid: 'x' }, {}, 'AA'), 'kb+jwt', holderPublicJwk(a.publicKey))).toMatchObject({ ok: false, reason: 'FORBIDDEN_HEADER' });
    expect(verifyHolderJwt('x', 'kb+jwt', { kty: 'RSA' })).toMatchObject({ ok: false, reason: 'INVALID_KEY' });
  });
});
