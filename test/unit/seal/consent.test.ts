import { createConsentSigner, createConsentVerifier, createKeyStore, type KeyStore } from '../../../src/seal';
import { craftJws, privateJwkOf, removeTempDirs, tempDir } from './fixture';

const NOW = Date.parse('2025-06-01T09:00:00Z');
let store: KeyStore;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { now: new Date(NOW - 86_400_000) });
});
afterAll(removeTempDirs);

describe('consent tokens', () => {
  it('verifies a consent signed by the one-window hall and reports its claims for the policy engine', () => {
    const signer = createConsentSigner({ issuer: 'one-window-hall', privateJwk: privateJwkOf(store, 'one-window-hall') });
    const token = signer.sign({ subject: '371702199001011234', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 3_600_000, audience: 'civil-affairs' }, NOW);
    const check = createConsentVerifier({ keyStore: store, now: () => NOW })(token);
    expect(check).toEqual({ valid: true, issuer: 'one-window-hall', subject: '371702199001011234', purpose: 'LIVING_ALLOWANCE', exp: NOW / 1000 + 3600, audience: 'civil-affairs', jti: expect.any(String) });
  });

  it('refuses a consent whose key is not the issuer\'s (WRONG_ISSUER), a request token (WRONG_TYPE), and a seal key (WRONG_KEY_USE)', () => {
    const verify = createConsentVerifier({ keyStore: store, now: () => NOW });
    const auditor = privateJwkOf(store, 'auditor');
    const claims = { iss: 'one-window-hall', sub: 'x', purpose: 'P', iat: NOW / 1000, exp: NOW / 1000 + 60 };
    expect(verify(craftJws({ alg: 'ES256', kid: auditor.kid, typ: 'datarun-consent+jwt' }, claims, auditor))).toEqual({ valid: false, reason: 'WRONG_ISSUER' });
    expect(verify(craftJws({ alg: 'ES256', kid: auditor.kid, typ: 'datarun-request+jwt' }, { ...claims, iss: 'auditor' }, auditor))).toEqual({ valid: false, reason: 'WRONG_TYPE' });
    const tax = privateJwkOf(store, 'tax', 'seal');
    expect(verify(craftJws({ alg: 'ES256', kid: tax.kid, typ: 'datarun-consent+jwt' }, { ...claims, iss: 'tax' }, tax))).toEqual({ valid: false, reason: 'WRONG_KEY_USE' });
    expect(verify('not-a-token')).toEqual({ valid: false, reason: 'MALFORMED' });
  });
});
