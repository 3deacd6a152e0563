import { runKeysInit } from '../../../src/cli/keys';
import { createConsentSigner, createConsentVerifier, createKeyStore, DEMO_OWNERS, initKeys, loadKeyStore, type KeyStore } from '../../../src/seal';
import { craftJws, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
let store: KeyStore;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: new Date(NOW - 86_400_000) });
});
afterAll(removeTempDirs);

describe('consent tokens', () => {
  it('verifies a consent signed by the citizen identity platform and reports its claims for the policy engine', () => {
    const signer = createConsentSigner({ issuer: 'citizen-identity', privateJwk: privateJwkOf(store, 'citizen-identity') });
    const token = signer.sign({ subject: '371702199001011234', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 3_600_000, audience: 'civil-affairs' }, NOW);
    const check = createConsentVerifier({ keyStore: store, now: () => NOW })(token);
    expect(check).toEqual({
      valid: true,
      issuer: 'citizen-identity',
      subject: '371702199001011234',
      purpose: 'LIVING_ALLOWANCE',
      iat: NOW / 1000,
      exp: NOW / 1000 + 3600,
      audience: 'civil-affairs',
      jti: expect.any(String),
    });
  });

  it('signs and reports a one-time consent (once: true, with its jti)', () => {
    const signer = createConsentSigner({ issuer: 'citizen-identity', privateJwk: privateJwkOf(store, 'citizen-identity') });
    const token = signer.sign({ subject: '371702199001011234', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 600_000, once: true }, NOW);
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ iss: 'citizen-identity', once: true, jti: expect.any(String) });
    expect(createConsentVerifier({ keyStore: store, now: () => NOW })(token)).toMatchObject({ valid: true, once: true, jti: expect.any(String) });
  });

  it('refuses a consent without iat, a one-time one without jti, and a once claim that is not a boolean (MALFORMED)', () => {
    const verify = createConsentVerifier({ keyStore: store, now: () => NOW });
    const key = privateJwkOf(store, 'citizen-identity');
    const header = { alg: 'ES256', kid: key.kid, typ: 'datarun-consent+jwt' };
    const claims = { iss: 'citizen-identity', sub: 'x', purpose: 'P', iat: NOW / 1000, exp: NOW / 1000 + 60, jti: 'j-1' };
    expect(verify(craftJws(header, claims, key))).toMatchObject({ valid: true });
    const { iat: _iat, ...withoutIat } = claims;
    expect(verify(craftJws(header, withoutIat, key))).toEqual({ valid: false, reason: 'MALFORMED' });
    const { jti: _jti, ...withoutJti } = claims;
    expect(verify(craftJws(header, { ...withoutJti, once: true }, key))).toEqual({ valid: false, reason: 'MALFORMED' });
    expect(verify(craftJws(header, { ...claims, once: 'yes' }, key))).toEqual({ valid: false, reason: 'MALFORMED' });
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

describe('the citizen identity platform, the demo consent issuer', () => {
  it('is a demo party: a consumer with the consent-issuer role only, whose request key the sandbox holds', () => {
    expect(store.owner('citizen-identity')).toMatchObject({ kind: 'consumer', roles: ['consent-issuer'], sandbox: true });
    expect(store.privateKeyPath('citizen-identity')).toBeDefined();
  });

  it('is added by `datarun keys init` to a demo trust list made before it existed, never to another list', async () => {
    const before = DEMO_OWNERS.filter((o) => o.id !== 'citizen-identity');
    const demo = await tempDir();
    await initKeys(demo, { ...WITH_DEPARTMENTS, owners: before });
    const lines: string[] = [];
    await runKeysInit({ ...WITH_DEPARTMENTS, dir: demo, out: (l) => lines.push(l) });
    expect(lines).toContain('registered demo party citizen-identity (Citizen identity platform 公民身份认证平台)');
    expect((await loadKeyStore(demo)).privateKeyPath('citizen-identity')).toBeDefined();

    const production = await tempDir();
    await initKeys(production, { owners: [...before, ...WITH_DEPARTMENTS.departments].map((o) => ({ ...o, sandbox: o.id !== 'tax' })) });
    await runKeysInit({ ...WITH_DEPARTMENTS, dir: production, out: () => undefined });
    expect((await loadKeyStore(production)).owner('citizen-identity')).toBeUndefined();
  });
});
