/** Holder keys as a proof binds them (`cnf.jwk`): only the key members, and only keys that are keys. */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { checkPublicJwk, readPublicJwk } from '../../../src/seal';

const curves = ['P-256', 'P-384'] as const;

describe('checkPublicJwk', () => {
  it.each([...curves, 'Ed25519'] as const)('accepts a %s public key, keeping only kty, crv, x (and y)', (curve) => {
    const { publicKey } = curve === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: curve });
    const jwk = publicKey.export({ format: 'jwk' });
    const checked = checkPublicJwk({ ...jwk, kid: 'holder-1', use: 'sig', alg: 'ES256' });
    expect(checked).toEqual({ jwk });
    expect(readPublicJwk(jwk)).toEqual(jwk);
  });

  it('refuses members that are not a point on the curve, for any change of y (property)', () => {
    const keys = curves.map((c) => generateKeyPairSync('ec', { namedCurve: c }).publicKey.export({ format: 'jwk' }));
    fc.assert(
      fc.property(fc.nat(keys.length - 1), fc.nat(47), fc.integer({ min: 1, max: 255 }), (k, at, delta) => {
        const jwk = keys[k]!;
        const y = Buffer.from(jwk.y!, 'base64url');
        const i = at % y.length;
        y[i] = (y[i]! + delta) & 0xff;
        // For its x the curve holds only y and p − y: a one-byte change of y reaching p − y would need the two to differ in one byte (odds about 2^-240 for a random key).
        const checked = checkPublicJwk({ ...jwk, y: y.toString('base64url') });
        expect(checked).toEqual({ problem: `is not a ${jwk.crv} public key: its x and y are not a point on the curve` });
        expect(readPublicJwk({ ...jwk, y: y.toString('base64url') })).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('names every other problem', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkPublicJwk(privateKey.export({ format: 'jwk' }))).toEqual({ problem: 'holds a private part ("d"): send the public key only' });
    expect(checkPublicJwk([publicKey.export({ format: 'jwk' })])).toEqual({ problem: 'is not a JWK (a JSON object)' });
    expect(checkPublicJwk(null)).toEqual({ problem: 'is not a JWK (a JSON object)' });
    expect(checkPublicJwk({ kty: 'oct', k: 'c2VjcmV0' })).toMatchObject({ problem: expect.stringMatching(/^is not an EC P-256 or P-384 public key/) });
    expect(checkPublicJwk({ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' })).toEqual({ problem: 'is not an Ed25519 public key: its x is not 32 bytes' });
    expect(checkPublicJwk(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }))).toMatchObject({ problem: expect.any(String) });
  });
});
