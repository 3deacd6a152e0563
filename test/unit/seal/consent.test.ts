import fc from 'fast-check';
import { runKeysInit } from '../../../src/cli/keys';
import { createConsentSigner, createConsentVerifier, createKeyStore, createSignatureMemo, DEMO_OWNERS, initKeys, loadKeyStore, type KeyStore } from '../../../src/seal';
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

describe('the memo of verified consent signatures', () => {
  it('gives the verdict of a verifier without it, whatever was seen before and whenever it is asked (property)', () => {
    const signer = createConsentSigner({ issuer: 'citizen-identity', privateJwk: privateJwkOf(store, 'citizen-identity') });
    const key = privateJwkOf(store, 'citizen-identity');
    const valid = [0, 1, 2].map((i) => signer.sign({ subject: `37170219900101123${i}`, purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 3_600_000 }, NOW));
    // A token signed for the future (not yet valid now), and one from the issuer's key for another issuer.
    const later = signer.sign({ subject: '371702199001011239', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 7_200_000 }, NOW + 3_600_000);
    const wrongIssuer = craftJws({ alg: 'ES256', kid: key.kid, typ: 'datarun-consent+jwt' }, { iss: 'one-window-hall', sub: 'x', purpose: 'P', iat: NOW / 1000, exp: NOW / 1000 + 60 }, key);
    const base = [...valid, later, wrongIssuer];
    const parts = (t: string) => t.split('.') as [string, string, string];
    // Tamperings: another token's signature on this one's content, a flipped signature character, a changed payload under the old signature.
    const token = fc.oneof(
      fc.constantFrom(...base),
      fc.tuple(fc.constantFrom(...base), fc.constantFrom(...base)).map(([a, b]) => `${parts(a)[0]}.${parts(a)[1]}.${parts(b)[2]}`),
      fc.tuple(fc.constantFrom(...base), fc.nat()).map(([t, i]) => {
        const [h, p, sig] = parts(t);
        const at = i % sig.length;
        return `${h}.${p}.${sig.slice(0, at)}${sig[at] === 'A' ? 'B' : 'A'}${sig.slice(at + 1)}`;
      }),
      fc.constantFrom(...base).map((t) => {
        const [h, p, sig] = parts(t);
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
        return `${h}.${Buffer.from(JSON.stringify({ ...claims, purpose: 'OTHER' })).toString('base64url')}.${sig}`;
      }),
    );
    const at = fc.constantFrom(NOW, NOW + 3_600_000, NOW - 3_600_000);
    fc.assert(
      fc.property(fc.array(fc.tuple(token, at), { minLength: 1, maxLength: 12 }), (steps) => {
        let now = NOW;
        const plain = createConsentVerifier({ keyStore: store, now: () => now });
        const signatures = createSignatureMemo();
        const memoized = createConsentVerifier({ keyStore: store, now: () => now, signatures });
        for (const [t, when] of steps) {
          now = when;
          expect(memoized(t)).toEqual(plain(t));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('checks a remembered token\'s times on every use, and never remembers a failure', () => {
    let now = NOW;
    const signatures = createSignatureMemo();
    const verify = createConsentVerifier({ keyStore: store, now: () => now, signatures });
    const signer = createConsentSigner({ issuer: 'citizen-identity', privateJwk: privateJwkOf(store, 'citizen-identity') });
    const token = signer.sign({ subject: '371702199001011234', purpose: 'LIVING_ALLOWANCE', expiresAt: NOW + 3_600_000 }, NOW);
    expect(verify(token)).toMatchObject({ valid: true });
    expect(signatures.size).toBe(1);
    now = NOW - 3_600_000;
    expect(verify(token)).toMatchObject({ valid: false });
    const [h, p, sig] = token.split('.') as [string, string, string];
    expect(verify(`${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`)).toMatchObject({ valid: false });
    expect(signatures.size).toBe(1);
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
