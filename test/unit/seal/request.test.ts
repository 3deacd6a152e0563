import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { createMemoryReplayGuard } from '../../../src/state';
import {
  UnauthenticatedError,
  createKeyStore,
  createRequestSigner,
  createRequestVerifier,
  missingRequestTokenMessage,
  readRequestToken,
  revokeKey,
  loadKeyStore,
  type KeyStore,
  type PrivateJwk,
  type ReplayGuard,
  type RequestVerifier,
} from '../../../src/seal';
import { craftJws, decodeSegment, privateJwkOf, removeTempDirs, tempDir, unsignedJws } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const NOW = Date.parse('2025-06-01T09:00:00Z');
const KEYS_MADE = new Date(NOW - 86_400_000);
const BODY = Buffer.from(JSON.stringify({ query: '{ person(idNumber: "371702199001011234") { name } }', variables: {} }));
const CONTEXT = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'YCTB-2025-000123', operator: 'wang.li' };

let store: KeyStore;
let hallKey: PrivateJwk;
let verifier: RequestVerifier;

beforeAll(async () => {
  store = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: KEYS_MADE });
  hallKey = privateJwkOf(store, 'one-window-hall');
  // The guard's clock is the verifier's clock: both at the test's NOW.
  verifier = createRequestVerifier({ keyStore: store, replayGuard: createMemoryReplayGuard({ now: () => NOW }), clockSkewSec: 60 });
});
afterAll(removeTempDirs);

/** Claims of a valid token at NOW, for crafting variants. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = NOW / 1000;
  return {
    iss: 'one-window-hall',
    aud: 'datarun-hub',
    iat,
    exp: iat + 60,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    bh: createHash('sha256').update(BODY).digest('base64url'),
    purpose: 'PROPERTY_TRANSFER',
    case: 'YCTB-2025-000123',
    operator: 'wang.li',
    ...overrides,
  };
}

function header(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'ES256', kid: hallKey.kid, typ: 'datarun-request+jwt', ...overrides };
}

async function refusal(token: string | undefined, body: Buffer = BODY, now: number = NOW, using: RequestVerifier = verifier): Promise<UnauthenticatedError> {
  const error = await using.verify(token, body, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnauthenticatedError)) throw new Error(`expected an UnauthenticatedError, but got: ${String(error)}`);
  expect(error.code).toBe('ERR_UNAUTHENTICATED');
  return error;
}

describe('signed requests', () => {
  it('accepts a request signed by a registered consumer, returning who sent it and why', async () => {
    const signer = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey });
    const token = signer.sign(BODY, CONTEXT, NOW);
    expect(decodeSegment(token.split('.')[0]!)).toEqual({ alg: 'ES256', kid: hallKey.kid, typ: 'datarun-request+jwt' });
    const verified = await verifier.verify(token, BODY, NOW + 1000);
    expect(verified).toMatchObject({ consumer: 'one-window-hall', roles: ['consumer', 'consent-issuer'], keyId: hallKey.kid });
    expect(verified.claims).toMatchObject({ iss: 'one-window-hall', aud: 'datarun-hub', iat: NOW / 1000, exp: NOW / 1000 + 60, purpose: 'PROPERTY_TRANSFER', case: 'YCTB-2025-000123', operator: 'wang.li' });
    expect(verified.claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('reads the token from an Authorization: DatarunRequest header, and nothing from other schemes', () => {
    const signer = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey });
    const value = signer.authorization(BODY, CONTEXT, NOW);
    expect(value).toMatch(/^DatarunRequest [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(readRequestToken(value)).toBe(value.slice('DatarunRequest '.length));
    expect(readRequestToken('Bearer abc')).toBeUndefined();
    expect(readRequestToken(undefined)).toBeUndefined();
  });

  it('refuses a purpose, case or operator that people could not read as it is held (property)', async () => {
    const signer = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey });
    const unreadable = fc.constantFrom('\u0000', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u200b', '\u200e', '\u202e', '\u2066', '\u2069', '\ufeff', '\ud800');
    const text = fc.string({ unit: fc.constantFrom(...'AZaz09-_./:审计员赵强 '), minLength: 1, maxLength: 20 }).map((t) => `C${t}Z`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(['caseNumber', 'case'], ['operator', 'operator']), text, unreadable, fc.nat(), async ([field, claim], plain, bad, at) => {
        const i = at % (plain.length + 1);
        const context = { ...CONTEXT, [field]: plain.slice(0, i) + bad + plain.slice(i) };
        const error = await refusal(signer.sign(BODY, context, NOW));
        expect([error.reason, error.claim]).toEqual(['MALFORMED', claim]);
        expect(error.message).toMatch(new RegExp(`^request token claim "${claim}" (holds the control or invisible character U\\+[0-9A-F]{4} at character ${i + 1}|is not well-formed Unicode)`));
        // The same text without the character is accepted.
        const verified = await verifier.verify(signer.sign(BODY, { ...CONTEXT, [field]: plain }, NOW), BODY, NOW);
        expect(verified.claims[claim as 'case' | 'operator']).toBe(plain);
      }),
      { numRuns: 150 },
    );
    for (const padded of [' YCTB-1', 'YCTB-1 ', '\u3000YCTB-1']) {
      const error = await refusal(signer.sign(BODY, { ...CONTEXT, caseNumber: padded }, NOW));
      expect(error.message).toBe('request token claim "case" begins or ends with a space');
    }
  });

  it('says why a header gives no token, never echoing what it carries', () => {
    const usage = 'a request is signed as "Authorization: DatarunRequest <token>"';
    expect(missingRequestTokenMessage(undefined)).toBe('request token is missing');
    expect(missingRequestTokenMessage('  ')).toBe('request token is missing');
    expect(missingRequestTokenMessage('Bearer eyJhbGciOi.eyJpc3Mi.c2ln')).toBe(`request token is missing: the Authorization header's scheme is "Bearer", but ${usage}`);
    expect(missingRequestTokenMessage('eyJhbGciOi.eyJpc3Mi.c2ln')).toBe(`request token is missing: the Authorization header has no scheme (${usage})`);
    expect(missingRequestTokenMessage('DatarunRequest')).toBe('request token is missing: the Authorization header names the DatarunRequest scheme but carries no token');
    expect(missingRequestTokenMessage('{"a":1} x')).toBe(`request token is missing: the Authorization header's scheme is not a scheme name, but ${usage}`);
  });

  it('refuses a request without a token (MISSING)', async () => {
    for (const token of [undefined, '']) {
      const error = await refusal(token);
      expect([error.reason, error.message]).toEqual(['MISSING', 'request token is missing']);
    }
  });

  it('refuses a token that is not a compact JWS of JSON objects (MALFORMED)', async () => {
    for (const token of ['abc', 'a.b', 'a.b.c.d', `${Buffer.from('[]').toString('base64url')}.e30.AA`, 'e30.e30.!!', unsignedJws(header({ typ: 'JWT' }), claims(), 'AA')]) {
      const error = await refusal(token);
      expect([error.reason, error.message]).toEqual(['MALFORMED', 'request token is malformed']);
    }
  });

  it('refuses an expired token (EXPIRED)', async () => {
    const token = craftJws(header(), claims({ iat: NOW / 1000 - 600, exp: NOW / 1000 - 300 }), hallKey);
    const error = await refusal(token);
    expect([error.reason, error.message]).toEqual(['EXPIRED', 'request token has expired']);
  });

  it('accepts a token issued slightly ahead within the clock skew, and refuses one beyond it (NOT_YET_VALID)', async () => {
    await expect(verifier.verify(craftJws(header(), claims({ iat: NOW / 1000 + 30, exp: NOW / 1000 + 90 }), hallKey), BODY, NOW)).resolves.toMatchObject({ consumer: 'one-window-hall' });
    const error = await refusal(craftJws(header(), claims({ iat: NOW / 1000 + 120, exp: NOW / 1000 + 180 }), hallKey));
    expect([error.reason, error.message]).toEqual(['NOT_YET_VALID', 'request token is not yet valid']);
  });

  it('refuses a token living longer than five minutes (LIFETIME_TOO_LONG)', async () => {
    const error = await refusal(craftJws(header(), claims({ exp: NOW / 1000 + 301 }), hallKey));
    expect([error.reason, error.message]).toEqual(['LIFETIME_TOO_LONG', 'request token lifetime exceeds 300 seconds']);
  });

  it('refuses a tampered token and one signed by a key that is not the registered one (BAD_SIGNATURE)', async () => {
    const good = craftJws(header(), claims(), hallKey);
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims({ operator: 'mallory' }))).toString('base64url')}.${s}`;
    const impostor = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as PrivateJwk;
    for (const token of [tampered, craftJws(header(), claims(), impostor)]) {
      const error = await refusal(token);
      expect([error.reason, error.message]).toEqual(['BAD_SIGNATURE', 'signature verification failed']);
    }
  });

  it('refuses an issuer that is not a registered consumer (UNKNOWN_CONSUMER)', async () => {
    for (const iss of ['nobody', 'tax', 'datarun-hub']) {
      const error = await refusal(craftJws(header(), claims({ iss }), hallKey));
      expect([error.reason, error.message]).toEqual(['UNKNOWN_CONSUMER', 'unknown consumer']);
    }
  });

  it('refuses an unknown kid, another consumer\'s kid and a seal key\'s kid (UNKNOWN_KEY)', async () => {
    const kids = ['one-window-hall.request.nope', store.currentKeyId('tax-bureau', 'request')!, store.currentKeyId('tax', 'seal')!];
    for (const kid of kids) {
      const error = await refusal(craftJws(header({ kid }), claims(), hallKey));
      expect([error.reason, error.message]).toEqual(['UNKNOWN_KEY', 'unknown signing key']);
    }
  });

  it('refuses a token whose key was revoked, even one backdated before the revocation (REVOKED_KEY)', async () => {
    const dir = await tempDir();
    const own = await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: KEYS_MADE });
    const key = privateJwkOf(own, 'civil-affairs');
    await revokeKey(dir, key.kid!, new Date(NOW - 60_000), { now: new Date(NOW - 60_000) });
    const revoked = createRequestVerifier({ keyStore: await loadKeyStore(dir, { now: new Date(NOW) }), replayGuard: createMemoryReplayGuard() });
    for (const iat of [NOW / 1000, NOW / 1000 - 120]) {
      const token = craftJws(header({ kid: key.kid }), claims({ iss: 'civil-affairs', iat, exp: iat + 150 }), key);
      const error = await refusal(token, BODY, NOW, revoked);
      expect([error.reason, error.message]).toEqual(['REVOKED_KEY', 'signing key has been revoked']);
    }
  });

  it('refuses a second request with the same jti (REPLAYED)', async () => {
    const token = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey }).sign(BODY, CONTEXT, NOW);
    await verifier.verify(token, BODY, NOW);
    const error = await refusal(token, BODY, NOW + 5000);
    expect([error.reason, error.message]).toEqual(['REPLAYED', 'request token has already been used']);
  });

  it('refuses a token whose body hash is not the hash of the body received (BODY_MISMATCH)', async () => {
    const token = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey }).sign(BODY, CONTEXT, NOW);
    const error = await refusal(token, Buffer.concat([BODY, Buffer.from(' ')]));
    expect([error.reason, error.message]).toEqual(['BODY_MISMATCH', 'request body does not match the signed body hash']);
  });

  it('refuses a token made for another audience (WRONG_AUDIENCE)', async () => {
    const token = createRequestSigner({ consumerId: 'one-window-hall', privateJwk: hallKey, audience: 'other-hub' }).sign(BODY, CONTEXT, NOW);
    const error = await refusal(token);
    expect([error.reason, error.message]).toEqual(['WRONG_AUDIENCE', 'request token is not for this hub']);
  });

  it('refuses alg none, HMAC keyed with the public key, RSA, and an algorithm other than the key\'s pinned one (BAD_ALGORITHM)', async () => {
    const input = (h: Record<string, unknown>): string => `${Buffer.from(JSON.stringify(h)).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`;
    const publicPem = store.resolveKey(hallKey.kid!)!.publicKey.export({ format: 'pem', type: 'spki' });
    const hs256 = `${input(header({ alg: 'HS256' }))}.${createHmac('sha256', publicPem).update(input(header({ alg: 'HS256' }))).digest('base64url')}`;
    const tokens = [unsignedJws(header({ alg: 'none' }), claims()), unsignedJws({ kid: hallKey.kid, typ: 'datarun-request+jwt' }, claims(), 'AA'), hs256, unsignedJws(header({ alg: 'RS256' }), claims(), 'AA'), craftJws(header({ alg: 'ES384' }), claims(), hallKey)];
    for (const token of tokens) {
      const error = await refusal(token);
      expect([error.reason, error.message]).toEqual(['BAD_ALGORITHM', 'request token algorithm is not allowed']);
    }
  });

  it('refuses a token carrying its own key (jwk, jku, x5u, x5c) or a crit header (FORBIDDEN_HEADER)', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = attacker.privateKey.export({ format: 'jwk' }) as PrivateJwk;
    const publicJwk = attacker.publicKey.export({ format: 'jwk' });
    const extras = [{ jwk: publicJwk }, { jku: 'https://evil.example/jwks.json' }, { x5u: 'https://evil.example/cert.pem' }, { x5c: ['MIIB'] }, { crit: ['exp'] }];
    for (const extra of extras) {
      const error = await refusal(craftJws(header(extra), claims(), attackerJwk));
      expect([error.reason, error.message]).toEqual(['FORBIDDEN_HEADER', 'request token header parameter is not allowed']);
    }
  });

  it('names a missing claim (MISSING_CLAIM)', async () => {
    for (const name of ['operator', 'case', 'purpose', 'bh', 'jti']) {
      const error = await refusal(craftJws(header(), claims({ [name]: undefined }), hallKey));
      expect([error.reason, error.message, error.claim]).toEqual(['MISSING_CLAIM', `request token is missing the "${name}" claim`, name]);
    }
  });

  it('does not burn a jti with a request whose signature fails', async () => {
    const jti = 'one-time-id-under-attack';
    const forged = `${craftJws(header(), claims({ jti }), hallKey).slice(0, -4)}AAAA`;
    expect((await refusal(forged)).reason).toBe('BAD_SIGNATURE');
    await expect(verifier.verify(craftJws(header(), claims({ jti }), hallKey), BODY, NOW)).resolves.toMatchObject({ claims: { jti } });
  });

  it('consults the replay guard only for requests whose signature verified', async () => {
    const calls: string[] = [];
    const guard: ReplayGuard = { checkAndRemember: (jti) => (calls.push(jti), Promise.resolve(true)) };
    const counted = createRequestVerifier({ keyStore: store, replayGuard: guard });
    await refusal(`${craftJws(header(), claims(), hallKey).slice(0, -4)}AAAA`, BODY, NOW, counted);
    await refusal(craftJws(header(), claims(), hallKey), Buffer.from('{}'), NOW, counted);
    expect(calls).toEqual([]);
    await counted.verify(craftJws(header(), claims({ jti: 'x1' }), hallKey), BODY, NOW);
    expect(calls).toEqual(['one-window-hall\u0000x1']);
  });
});
