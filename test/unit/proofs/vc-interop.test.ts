/**
 * An independent implementation verifies the hub's proofs: @sd-jwt/sd-jwt-vc 0.19 (OpenWallet
 * Foundation), configured with node:crypto only — its signature callback verifies with the
 * department's published JWK, its key-binding callback with the proof's `cnf.jwk`, its hasher
 * is SHA-256. It accepts an unbound proof and a holder-bound one with its KB-JWT (nonce, aud,
 * sd_hash), reads the status list the hub signs, and does not accept a tampered disclosure (it drops
 * the claim, and refuses when the claim is required).
 */
import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify, type JsonWebKey } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import type { KeyStore } from '../../../src/seal';
import { createStatusListSigner, issueProofVc, presentProof, signStatusListToken, type IssueProofInput } from '../../../src/proofs';
import { decodeSegment, demoKeyStore, removeTempDirs } from '../seal/fixture';

const NOW = Date.UTC(2026, 2, 6, 2, 0, 0);
const NOW_SEC = NOW / 1000 + 60;
const URI = 'https://hub.example.gov.cn/status/0';
let store: KeyStore;
const holder = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  store = await demoKeyStore(new Date(NOW - 86_400_000));
});
afterAll(removeTempDirs);

const base = (over: Partial<IssueProofInput> = {}): IssueProofInput => ({
  keyStore: store,
  department: 'real-estate',
  kind: 'NO_PROPERTY',
  purpose: '购房资格审核',
  asOf: NOW - 3_600_000,
  subjectKind: 'PERSON',
  claims: { ownerName: '李四', idNumber: '370102199001011234', properties: [] },
  validitySeconds: 86_400,
  now: NOW,
  ...over,
});

/** ES256 over the JWS signing input with a public JWK: node:crypto, nothing of src/seal. */
function es256(jwk: unknown, data: string, signature: string): boolean {
  const { kty, crv, x, y } = jwk as Record<string, string>;
  const key = createPublicKey({ key: { kty, crv, x, y } as JsonWebKey, format: 'jwk' });
  return cryptoVerify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}

/** The verifier of the independent implementation: issuer keys from the hub's published JWKS by the kid of the token being checked. */
function independentVerifier(): SDJwtVcInstance {
  const jwks = store.publicJwks() as unknown as { keys: Array<Record<string, unknown>> };
  const byKid = (data: string) => jwks.keys.find((k) => k.kid === decodeSegment(data.split('.')[0]!).kid);
  return new SDJwtVcInstance({
    hasher: (data: string | ArrayBuffer, alg: string) => {
      expect(alg).toBe('sha-256');
      return new Uint8Array(createHash('sha256').update(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)).digest());
    },
    hashAlg: 'sha-256',
    verifier: (data: string, signature: string) => {
      const jwk = byKid(data);
      return jwk !== undefined && es256(jwk, data, signature);
    },
    kbVerifier: (data: string, signature: string, payload: unknown) => es256((payload as { cnf: { jwk: unknown } }).cnf.jwk, data, signature),
    statusListFetcher: () => Promise.resolve(signStatusListToken({ uri: URI, bits: 2, statuses: [0, 0, 0, 0], ttlSeconds: 300, now: NOW, sign: createStatusListSigner({ keyStore: store }) })),
  });
}

describe('@sd-jwt/sd-jwt-vc verifies the hub’s proofs', () => {
  it('an unbound proof with a status list entry: the claims it discloses, the header typ dc+sd-jwt', async () => {
    const token = issueProofVc(base({ status: { idx: 3, uri: URI } })).token;
    const result = await independentVerifier().verify(presentProof(token, { disclose: ['ownerName', 'properties'] }), { currentDate: NOW_SEC });
    expect(result.header).toMatchObject({ typ: 'dc+sd-jwt', alg: 'ES256' });
    expect(result.payload).toMatchObject({ iss: 'real-estate', vct: 'urn:datarun:proof:NO_PROPERTY', kind: 'NO_PROPERTY', holderBinding: 'none', ownerName: '李四', properties: [] });
    expect(result.payload).not.toHaveProperty('idNumber');
  });

  it('a holder-bound proof with its KB-JWT: nonce, aud and sd_hash', async () => {
    const token = issueProofVc(base({ holderJwk: holder.publicKey })).token;
    const presentation = presentProof(token, { disclose: ['ownerName'], holderKey: holder.privateKey, nonce: 'n-123', audience: 'https://bank.example.cn', now: NOW + 30_000 });
    const result = await independentVerifier().verify(presentation, { currentDate: NOW_SEC, keyBindingNonce: 'n-123' });
    expect(result.kb?.header).toMatchObject({ typ: 'kb+jwt', alg: 'ES256' });
    expect(result.kb?.payload).toMatchObject({ aud: 'https://bank.example.cn', nonce: 'n-123' });
    expect(result.payload).toMatchObject({ ownerName: '李四', cnf: { jwk: { kty: 'EC', crv: 'P-256' } } });
    await expect(independentVerifier().verify(presentation, { currentDate: NOW_SEC, keyBindingNonce: 'another' })).rejects.toThrow();
  });

  it('refuses a tampered disclosure, and a KB-JWT whose presentation lost a disclosure', async () => {
    const parts = presentProof(issueProofVc(base()).token, { disclose: 'all' }).split('~');
    const [salt, name] = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as [string, string];
    const altered = Buffer.from(JSON.stringify([salt, name, '王五'])).toString('base64url');
    const tampered = [parts[0], altered, ...parts.slice(2)].join('~');
    // The library does not throw for a disclosure no digest covers (RFC 9901 §7.1 says to reject): it
    // leaves the claim out, so the altered value never reaches the relying party...
    const lenient = await independentVerifier().verify(tampered, { currentDate: NOW_SEC });
    expect(lenient.payload).not.toHaveProperty(name);
    expect(JSON.stringify(lenient.payload)).not.toContain('王五');
    // ...and a verifier that needs the claim (requiredClaimKeys) refuses the presentation.
    await expect(independentVerifier().verify(tampered, { currentDate: NOW_SEC, requiredClaimKeys: [name] })).rejects.toThrow(/Missing required claim keys/);
    await expect(independentVerifier().verify(parts.join('~'), { currentDate: NOW_SEC, requiredClaimKeys: [name] })).resolves.toBeDefined();

    const bound = presentProof(issueProofVc(base({ holderJwk: holder.publicKey })).token, { disclose: 'all', holderKey: holder.privateKey, nonce: 'n', audience: 'a', now: NOW });
    const b = bound.split('~');
    await expect(independentVerifier().verify([b[0], b[1], b[2], b[4]].join('~'), { currentDate: NOW_SEC, keyBindingNonce: 'n' })).rejects.toThrow(/sd_hash/);
  });
});
