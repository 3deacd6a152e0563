/**
 * Every reason a signed request is refused, over HTTP: 401 with the reason code, a generic
 * message, and no department called.
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runVerify } from '../../src/cli/verify';
import { createRequestSigner, initKeys, loadKeyStore, revokeKey, sha256Base64url, type PrivateJwk } from '../../src/seal';
import { propertyTransferExample } from '../../src/cli/examples';
import { createDataRunClient } from '../../src/client';
import { createMemoryReplayGuard } from '../../src/state';
import { startTestHub, type TestHub } from '../support/hub';
import { startHubInProcess } from '../support/redis';
import { flipS, highSVariant, isHighS } from '../unit/seal/fixture';
import { WITH_DEPARTMENTS } from '../support/keys';

const CONTEXT = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-AUTH-1', operator: 'op' };
let hub: TestHub;
let revokedJwk: PrivateJwk;

beforeAll(async () => {
  hub = await startTestHub({
    security: 'signed',
    // The tax bureau's first request key (made two hours ago) is revoked an hour ago; its private file stays behind.
    prepareKeys: async (dir) => {
      await initKeys(dir, { ...WITH_DEPARTMENTS, now: new Date(Date.now() - 7_200_000) });
      const store = await loadKeyStore(dir);
      const kid = store.currentKeyId('tax-bureau', 'request')!;
      revokedJwk = JSON.parse(readFileSync(store.privateKeyPath('tax-bureau')!, 'utf8')) as PrivateJwk;
      await revokeKey(dir, kid, new Date(Date.now() - 3_600_000));
    },
  });
});
afterAll(async () => {
  await hub?.close();
});

function jwkOf(consumer: string): PrivateJwk {
  return JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(consumer)!, 'utf8')) as PrivateJwk;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function post(body: string, authorization: string | undefined) {
  hub.resetSandboxes();
  const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
  const json = (await res.json()) as { errors?: { message: string; extensions: Record<string, unknown> }[] };
  return { status: res.status, error: json.errors?.[0], calls: hub.calls() };
}

const now = () => Date.now();
const body = () => JSON.stringify({ query: 'query($u: ID!) { property(unitNumber: $u) { address } }', variables: { u: propertyTransferExample(hub.sandboxes.data).unitNumber } });

/** A token with hand-made header and claims, signed ES256 by the given key. */
function forged(header: Record<string, unknown>, claims: Record<string, unknown>, jwk: PrivateJwk): string {
  const { kid: _k, alg: _a, ...members } = jwk as PrivateJwk & Record<string, unknown>;
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = createSign('SHA256').update(input).sign({ key: { ...members, kty: 'EC' } as never, format: 'jwk', dsaEncoding: 'ieee-p1363' });
  return `DatarunRequest ${input}.${signature.toString('base64url')}`;
}

/** The token with its ECDSA signature in low-S form, as every verifier of the project requires. */
function lowS(token: string): string {
  const [h, p, sig] = token.split('.');
  const signature = Buffer.from(sig!, 'base64url');
  return `${h}.${p}.${(isHighS(signature) ? flipS(signature) : signature).toString('base64url')}`;
}

function claimsFor(b: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(now() / 1000);
  return { iss: 'real-estate-centre', aud: 'datarun-hub', iat, exp: iat + 60, jti: `jti-${Math.random()}`, bh: sha256Base64url(Buffer.from(b)), purpose: 'PROPERTY_TRANSFER', case: 'C', operator: 'o', ...overrides };
}

describe('a signed request is refused over HTTP, before any department is asked', () => {
  const cases: [string, string, () => string | undefined][] = [
    ['MISSING', 'request token is missing', () => undefined],
    ['MISSING', 'request token is missing: the Authorization header\'s scheme is "Bearer", but a request is signed as "Authorization: DatarunRequest <token>"', () => 'Bearer abc.def.ghi'],
    ['MALFORMED', 'request token is malformed', () => 'DatarunRequest not.a-token'],
    ['EXPIRED', 'request token has expired', () => createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(body(), CONTEXT, now() - 10 * 60_000)],
    ['NOT_YET_VALID', 'request token is not yet valid', () => createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(body(), CONTEXT, now() + 10 * 60_000)],
    ['WRONG_AUDIENCE', 'request token is not for this hub', () => createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre'), audience: 'another-hub' }).authorization(body(), CONTEXT)],
    ['UNKNOWN_CONSUMER', 'unknown consumer', () => createRequestSigner({ consumerId: 'ghost-bureau', privateJwk: jwkOf('real-estate-centre') }).authorization(body(), CONTEXT)],
    ['UNKNOWN_KEY', 'unknown signing key', () => createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre'), keyId: 'real-estate-centre.request.nosuchkey' }).authorization(body(), CONTEXT)],
    ['REVOKED_KEY', 'signing key has been revoked', () => createRequestSigner({ consumerId: 'tax-bureau', privateJwk: revokedJwk }).authorization(body(), CONTEXT)],
    ['BODY_MISMATCH', 'request body does not match the signed body hash', () => createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization('{"query":"{ __typename }"}', CONTEXT)],
    [
      'BAD_SIGNATURE',
      'signature verification failed',
      () => {
        const kid = hub.gateway.keyStore.currentKeyId('real-estate-centre', 'request');
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return forged({ alg: 'ES256', kid, typ: 'datarun-request+jwt' }, claimsFor(body()), { ...(privateKey.export({ format: 'jwk' }) as PrivateJwk) });
      },
    ],
    [
      'BAD_ALGORITHM',
      'request token algorithm is not allowed',
      () => {
        const kid = hub.gateway.keyStore.currentKeyId('real-estate-centre', 'request');
        return `DatarunRequest ${b64({ alg: 'none', kid, typ: 'datarun-request+jwt' })}.${b64(claimsFor(body()))}.`;
      },
    ],
    [
      'FORBIDDEN_HEADER',
      'request token header parameter is not allowed',
      () => {
        const jwk = jwkOf('real-estate-centre');
        const { d: _d, ...pub } = jwk as PrivateJwk & { d?: string };
        return forged({ alg: 'ES256', kid: jwk.kid, typ: 'datarun-request+jwt', jwk: pub }, claimsFor(body()), jwk);
      },
    ],
    ['LIFETIME_TOO_LONG', 'request token lifetime exceeds 300 seconds', () => forged({ alg: 'ES256', kid: jwkOf('real-estate-centre').kid, typ: 'datarun-request+jwt' }, claimsFor(body(), { exp: Math.floor(now() / 1000) + 3600 }), jwkOf('real-estate-centre'))],
  ];

  for (const [reason, message, authorization] of cases) {
    it(`answers ${reason} with 401 and a generic message (${message.slice(0, 70)})`, async () => {
      const reply = await post(body(), authorization());
      expect(reply.status).toBe(401);
      expect(reply.error).toEqual({ message, extensions: { code: 'UNAUTHENTICATED', reason } });
      expect(reply.calls).toEqual({ 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 });
    });
  }

  it('answers MALFORMED, naming the claim and the character, for a case number or operator holding a control or invisible character', async () => {
    const signer = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') });
    const b = body();
    const broken = await post(b, signer.authorization(b, { ...CONTEXT, caseNumber: 'C-1\nX' }));
    expect(broken).toEqual({ status: 401, error: { message: 'request token claim "case" holds the control or invisible character U+000A at character 4', extensions: { code: 'UNAUTHENTICATED', reason: 'MALFORMED', claim: 'case' } }, calls: { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 } });
    const b2 = body();
    const spoofed = await post(b2, signer.authorization(b2, { ...CONTEXT, operator: 'wang\u202Eil' }));
    expect(spoofed.error).toMatchObject({ message: 'request token claim "operator" holds the control or invisible character U+202E at character 5', extensions: { reason: 'MALFORMED', claim: 'operator' } });
  });

  it('answers REPLAYED for a token used twice, the first time served', async () => {
    const b = body();
    const authorization = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(b, CONTEXT);
    expect((await post(b, authorization)).status).toBe(200);
    const replay = await post(b, authorization);
    expect(replay).toEqual({ status: 401, error: { message: 'request token has already been used', extensions: { code: 'UNAUTHENTICATED', reason: 'REPLAYED' } }, calls: { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 } });
  });

  it('honours nbf: a token signed now but valid only from ten minutes on is NOT_YET_VALID', async () => {
    const jwk = jwkOf('real-estate-centre');
    const claims = claimsFor(body(), { nbf: Math.floor(now() / 1000) + 600 });
    const reply = await post(body(), `DatarunRequest ${lowS(forged({ alg: 'ES256', kid: jwk.kid, typ: 'datarun-request+jwt' }, claims, jwk).slice('DatarunRequest '.length))}`);
    expect(reply).toEqual({ status: 401, error: { message: 'request token is not yet valid', extensions: { code: 'UNAUTHENTICATED', reason: 'NOT_YET_VALID' } }, calls: { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 } });
  });

  it('refuses the high-S twin of a valid signature (BAD_SIGNATURE) without burning its jti: the low-S original is then served', async () => {
    const b = body();
    const authorization = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(b, CONTEXT);
    const token = authorization.slice('DatarunRequest '.length);
    expect(isHighS(Buffer.from(token.split('.')[2]!, 'base64url'))).toBe(false); // the signer normalises to low-S
    const twin = await post(b, `DatarunRequest ${highSVariant(token)}`);
    expect(twin).toEqual({ status: 401, error: { message: 'signature is not in low-S form', extensions: { code: 'UNAUTHENTICATED', reason: 'BAD_SIGNATURE' } }, calls: { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 } });
    expect((await post(b, authorization)).status).toBe(200);
  });

  it('serves a consumer whose current key was revoked through the replacement key made at revocation', async () => {
    const store = await loadKeyStore(hub.keysDir);
    const current = store.currentKeyId('tax-bureau', 'request')!;
    expect(current).not.toBe(revokedJwk.kid);
    const reply = await hub.clientFor('tax-bureau').query<any>('query($c: ID!) { enterprise(creditCode: $c) { name } }', { c: hub.sandboxes.data.enterprises[0]!.creditCode }, { purpose: 'ENTERPRISE_STARTUP', caseNumber: 'SW-KEY-1', operator: 'op' });
    expect(reply.errors).toBeUndefined();
    expect(reply.data.enterprise.name).toBe(hub.sandboxes.data.enterprises[0]!.name);
  });

  it('names a missing claim', async () => {
    const jwk = jwkOf('real-estate-centre');
    const { operator: _o, ...claims } = claimsFor(body());
    const reply = await post(body(), forged({ alg: 'ES256', kid: jwk.kid, typ: 'datarun-request+jwt' }, claims, jwk));
    expect(reply.error).toEqual({ message: 'request token is missing the "operator" claim', extensions: { code: 'UNAUTHENTICATED', reason: 'MISSING_CLAIM', claim: 'operator' } });
  });
});

describe('a replay guard that cannot remember another id', () => {
  it('refuses the request closed (503, REPLAY_GUARD_FULL, retry), records it, and calls no department', async () => {
    const own = await startHubInProcess(hub.sandboxes, undefined, {}, { replayGuard: createMemoryReplayGuard({ maxEntries: 1 }) });
    try {
      const client = createDataRunClient({ hubUrl: own.url, consumerId: 'real-estate-centre', keyFile: own.gateway.keyStore.privateKeyPath('real-estate-centre')! });
      const ask = () => client.query<any>('query($u: ID!) { property(unitNumber: $u) { address } }', { u: propertyTransferExample(hub.sandboxes.data).unitNumber }, CONTEXT);
      expect((await ask()).status).toBe(200);
      hub.resetSandboxes();
      const before = own.gateway.audit!.health().seq;
      const refused = await ask();
      expect(refused.status).toBe(503);
      expect(refused.data).toBeUndefined();
      expect(refused.errors).toEqual([
        { message: 'The replay guard is unavailable: the request cannot be checked and is refused; retry later.', extensions: { code: 'REPLAY_GUARD_UNAVAILABLE', reason: 'REPLAY_GUARD_FULL' } },
      ]);
      expect(Object.values(hub.calls()).reduce((a, b) => a + b, 0)).toBe(0);
      expect(own.gateway.audit!.health().seq).toBe(before + 1);
    } finally {
      await own.close();
    }
  });
});

describe('datarun verify, offline, on tokens saved from a real reply', () => {
  it('verifies the seal and the receipt from files and the saved JWKS, and refuses a changed one', async () => {
    const client = hub.clientFor('real-estate-centre');
    const reply = await client.query<any>('query($u: ID!) { property(unitNumber: $u) { address area seal { token } } }', { u: propertyTransferExample(hub.sandboxes.data).unitNumber }, CONTEXT);
    expect(reply.status).toBe(200);
    const dir = mkdtempSync(path.join(tmpdir(), 'datarun-saved-'));
    writeFileSync(path.join(dir, 'seal.txt'), reply.data.property.seal.token);
    writeFileSync(path.join(dir, 'receipt.txt'), reply.receipt!);
    writeFileSync(path.join(dir, 'saved-jwks.json'), JSON.stringify(await client.jwks()));
    await hub.close(); // offline: the hub is gone
    const lines: string[] = [];
    const out = (line: string) => lines.push(line);
    expect(await runVerify({ token: `@${path.join(dir, 'seal.txt')}`, jwks: path.join(dir, 'saved-jwks.json'), out })).toBe(0);
    expect(lines[0]).toBe('VALID seal');
    expect(await runVerify({ token: `@${path.join(dir, 'receipt.txt')}`, jwks: path.join(dir, 'saved-jwks.json'), out })).toBe(0);
    expect(lines).toContain('VALID receipt');
    const [jwt, ...disclosures] = reply.data.property.seal.token.split('~');
    const [h, p, s] = jwt.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    const changed = [`${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'another' })).toString('base64url')}.${s}`, ...disclosures].join('~');
    lines.length = 0;
    expect(await runVerify({ token: changed, jwks: path.join(dir, 'saved-jwks.json'), out })).toBe(6);
    expect(lines[0]).toMatch(/^INVALID: seal: signature verification failed/);
    hub = undefined as unknown as TestHub;
    rmSync(dir, { recursive: true, force: true });
  });
});
