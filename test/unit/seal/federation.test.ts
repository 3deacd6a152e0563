/**
 * Trust between hubs: the federation root key, the JWKS statement it signs, and its
 * verification against a pinned root, every refusal by its reason.
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { runKeysFederationRoot } from '../../../src/cli/keys';
import {
  FEDERATION_JWKS_TOKEN_TYPE,
  FEDERATION_ROOT_FILE,
  InvalidKeyError,
  PrivateKeyMissingError,
  createFederationStatementSigner,
  createKeyStore,
  createSealer,
  initKeys,
  jwkThumbprint,
  loadKeyStore,
  pinnedRootThumbprint,
  presentSeal,
  requirePeerJwks,
  rotateKey,
  verifyPeerJwks,
  verifySeal,
  type KeyStore,
  type PublicJwk,
} from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';
import { removeTempDirs, tempDir } from './fixture';

const T0 = new Date('2026-03-01T08:00:00Z');
const at = (sec: number): Date => new Date(T0.getTime() + sec * 1000);

let b: KeyStore;
let other: KeyStore;
beforeAll(async () => {
  b = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: T0 });
  other = await createKeyStore(await tempDir(), { ...WITH_DEPARTMENTS, now: T0 });
});
afterAll(removeTempDirs);

const rootOf = (store: KeyStore): PublicJwk => store.federationRoot()!.jwk;
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } => {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
};

/** Signs header and payload with an Ed25519 key by hand (independent of src/seal's signer). */
function handSigned(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

async function rootPrivateKey(store: KeyStore): Promise<KeyObject> {
  const name = (await readdir(join(store.dir, 'private'))).find((f) => f.startsWith('federation-root.'))!;
  return createPrivateKey({ key: JSON.parse(await readFile(join(store.dir, 'private', name), 'utf8')), format: 'jwk' });
}

/** A statement of `b` with claims and header changed, signed with b's own root key. */
async function resigned(change: { header?: Record<string, unknown>; payload?: Record<string, unknown> }, key?: KeyObject): Promise<string> {
  const token = createFederationStatementSigner({ keyStore: b }).statement(b.publicJwks(), T0);
  const { header, payload } = decode(token);
  return handSigned({ ...header, ...change.header }, { ...payload, ...change.payload }, key ?? (await rootPrivateKey(b)));
}

describe('the federation root key', () => {
  it('is made with the hub’s keys: Ed25519, its RFC 7638 thumbprint, the private half 0600 under private/, never in the JWKS', async () => {
    const root = b.federationRoot()!;
    expect(root).toMatchObject({ hub: 'datarun-hub', alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } });
    const x = (root.jwk as { x: string }).x;
    expect(root.thumbprint).toBe(createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url'));
    expect(jwkThumbprint(root.jwk)).toBe(root.thumbprint);
    const privateFile = join(b.dir, 'private', `federation-root.${root.thumbprint}.jwk.json`);
    if (process.platform !== 'win32') expect((await stat(privateFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(privateFile, 'utf8'))).toHaveProperty('d');
    const publicFile = JSON.parse(await readFile(join(b.dir, FEDERATION_ROOT_FILE), 'utf8'));
    expect(publicFile).not.toHaveProperty('jwk.d');
    expect(JSON.stringify(b.publicJwks())).not.toContain(x);
    expect(JSON.stringify(b.trustList())).not.toContain(x);
    expect(other.federationRoot()!.thumbprint).not.toBe(root.thumbprint);
  });

  it('stays the same across start-ups (initKeys is idempotent), and `datarun keys federation-root` prints it for the peer to pin', async () => {
    const report = await initKeys(b.dir, { ...WITH_DEPARTMENTS, now: at(60) });
    expect(report).toEqual({ created: [], replaced: [], changed: false });
    expect((await loadKeyStore(b.dir)).federationRoot()).toEqual(b.federationRoot());
    const lines: string[] = [];
    await runKeysFederationRoot({ dir: b.dir, out: (l) => lines.push(l) });
    const printed = JSON.parse(lines.join('\n'));
    expect(printed).toEqual({ hub: 'datarun-hub', alg: 'EdDSA', jwk: rootOf(b), thumbprint: b.federationRoot()!.thumbprint, createdAt: T0.toISOString() });
  });

  it('refuses to start when its private half is gone from a hub that is not a sandbox; a sandbox hub gets a new one', async () => {
    const owners = [{ id: 'datarun-hub', kind: 'hub' as const, name: 'hub' }];
    const real = await tempDir();
    await initKeys(real, { owners, now: T0 });
    const thumbprint = (await loadKeyStore(real)).federationRoot()!.thumbprint;
    await rm(join(real, 'private', `federation-root.${thumbprint}.jwk.json`));
    const error = await initKeys(real, { now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrivateKeyMissingError);
    expect((error as Error).message).toContain(`federation root key ${thumbprint} is missing`);

    const sandbox = await tempDir();
    const report = await initKeys(sandbox, { ...WITH_DEPARTMENTS, now: T0 });
    const first = report.federationRoot!;
    await rm(join(sandbox, 'private', `federation-root.${first}.jwk.json`));
    const again = await initKeys(sandbox, { now: T0 });
    expect(again.federationRoot).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(again.federationRoot).not.toBe(first);
    expect((await loadKeyStore(sandbox)).federationRoot()!.thumbprint).toBe(again.federationRoot);
  });
  it('rebuilds a deleted public file from the private half, keeping the pinned key', async () => {
    const dir = await tempDir();
    const report = await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0 });
    await rm(join(dir, FEDERATION_ROOT_FILE));
    expect((await initKeys(dir, { now: at(5) })).federationRoot).toBeUndefined();
    expect((await loadKeyStore(dir)).federationRoot()!.thumbprint).toBe(report.federationRoot);
  });
});

describe('the JWKS statement', () => {
  it('is a compact JWS of the root key over { iss, iat, exp (a day), root, jwks }, and verifies against the root pinned as a JWK or as its thumbprint', async () => {
    const token = createFederationStatementSigner({ keyStore: b }).statement(b.publicJwks(), T0);
    const { header, payload } = decode(token);
    expect(header).toEqual({ alg: 'EdDSA', kid: b.federationRoot()!.thumbprint, typ: FEDERATION_JWKS_TOKEN_TYPE });
    expect(payload).toEqual({ iss: 'datarun-hub', iat: T0.getTime() / 1000, exp: T0.getTime() / 1000 + 86_400, root: rootOf(b), jwks: b.publicJwks() });
    for (const root of [rootOf(b), b.federationRoot()!.thumbprint]) {
      const verified = verifyPeerJwks(token, { hub: 'datarun-hub', root, now: at(3600) });
      expect(verified).toMatchObject({ valid: true, hub: 'datarun-hub', issuedAt: T0, expiresAt: at(86_400), expired: false, root: b.federationRoot()!.thumbprint, jwks: b.publicJwks() });
    }
    // The peer's keys verify its departments' seals.
    const seal = presentSeal(createSealer({ keyStore: b }).sealRecord({ department: 'tax', recordType: 'TaxPayment', recordId: 'P-1', fields: { amount: 12 } }), ['amount']);
    const keys = requirePeerJwks(token, { hub: 'datarun-hub', root: rootOf(b), now: at(60) }).keys;
    expect(verifySeal(seal, { jwks: keys })).toMatchObject({ valid: true, issuer: 'tax', disclosed: { amount: 12 } });
  });

  it('is signed once per JWKS content, again past half its lifetime, and anew when the keys change (rotation)', async () => {
    const signer = createFederationStatementSigner({ keyStore: b });
    const first = signer.statement(b.publicJwks(), T0);
    expect(signer.statement(b.publicJwks(), at(3600))).toBe(first);
    expect(signer.statement(JSON.parse(JSON.stringify(b.publicJwks())), at(3600))).toBe(first);
    const later = signer.statement(b.publicJwks(), at(43_200));
    expect(later).not.toBe(first);
    expect(decode(later).payload.iat).toBe(at(43_200).getTime() / 1000);

    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0 });
    const before = await loadKeyStore(dir);
    const old = before.currentKeyId('tax', 'seal')!;
    const rotated = await rotateKey(dir, 'tax', { use: 'seal', now: at(10) });
    const after = await loadKeyStore(dir);
    const signerBefore = createFederationStatementSigner({ keyStore: before });
    const signerAfter = createFederationStatementSigner({ keyStore: after });
    const s1 = signerBefore.statement(before.publicJwks(), at(5));
    const s2 = signerAfter.statement(after.publicJwks(), at(20));
    const root = after.federationRoot()!.thumbprint;
    expect(root).toBe(before.federationRoot()!.thumbprint);
    const keys1 = requirePeerJwks(s1, { hub: 'datarun-hub', root, now: at(30) }).keys;
    const keys2 = requirePeerJwks(s2, { hub: 'datarun-hub', root, now: at(30) }).keys;
    expect(keys1.resolveKey(rotated.created[0]!)).toBeUndefined();
    expect(keys2.resolveKey(rotated.created[0]!)).toMatchObject({ owner: 'tax', use: 'seal' });
    expect(keys2.resolveKey(old)).toMatchObject({ owner: 'tax', use: 'seal' }); // still verifies what it sealed
    const seal = presentSeal(createSealer({ keyStore: after }).sealRecord({ department: 'tax', recordType: 'TaxPayment', recordId: 'P-2', fields: { amount: 1 }, issuedAt: at(25) }), ['amount']);
    expect(verifySeal(seal, { jwks: keys1, now: at(30) })).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
    expect(verifySeal(seal, { jwks: keys2, now: at(30) })).toMatchObject({ valid: true });
  });

  it('refuses a lifetime outside 60 s to a week, and a key store without a root key', async () => {
    expect(() => createFederationStatementSigner({ keyStore: b, lifetimeSec: 10 })).toThrow(InvalidKeyError);
    expect(() => createFederationStatementSigner({ keyStore: b, lifetimeSec: 8 * 86_400 })).toThrow(/lifetimeSec must be an integer from 60 to 604800/);
    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0 });
    await rm(join(dir, FEDERATION_ROOT_FILE));
    await rm(join(dir, 'private'), { recursive: true });
    // Without its private keys a sandbox store still loads (they are made again at start-up); it has no root to sign with.
    const store = await loadKeyStore(dir);
    expect(store.federationRoot()).toBeUndefined();
    expect(() => createFederationStatementSigner({ keyStore: store })).toThrow(expect.objectContaining({ code: 'ERR_NO_SIGNING_KEY' }));
  });
});

describe('verifyPeerJwks refuses', () => {
  const verify = (token: string, options: Partial<Parameters<typeof verifyPeerJwks>[1]> = {}) => verifyPeerJwks(token, { hub: 'datarun-hub', root: rootOf(b), now: at(60), ...options });
  const good = (): string => createFederationStatementSigner({ keyStore: b }).statement(b.publicJwks(), T0);

  it('a statement of another root (WRONG_ROOT), of another hub (WRONG_HUB), expired or issued in the future', async () => {
    const foreign = createFederationStatementSigner({ keyStore: other }).statement(other.publicJwks(), T0);
    expect(verify(foreign)).toEqual({ valid: false, reason: 'WRONG_ROOT', message: 'the statement names a root key other than the pinned one' });
    expect(verify(good(), { hub: 'city-b' })).toMatchObject({ valid: false, reason: 'WRONG_HUB' });
    expect(verify(good(), { now: at(86_400 + 61) })).toMatchObject({ valid: false, reason: 'EXPIRED' });
    expect(verify(good(), { now: at(86_400 + 61), allowExpired: true })).toMatchObject({ valid: true, expired: true });
    expect(verify(good(), { now: at(86_400 + 59) })).toMatchObject({ valid: true, expired: false }); // the clock skew
    expect(verify(good(), { now: at(-120) })).toMatchObject({ valid: false, reason: 'NOT_YET_VALID' });
    expect(verify(await resigned({ payload: { nbf: 'soon' } }))).toMatchObject({ valid: false, reason: 'MALFORMED' });
  });

  it('a statement signed by another key, even naming the pinned root as its kid and in its claims (BAD_SIGNATURE)', async () => {
    const { privateKey: attacker, publicKey } = generateKeyPairSync('ed25519');
    const attackerJwk = publicKey.export({ format: 'jwk' }) as PublicJwk;
    expect(verify(await resigned({}, attacker))).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    // Its own key in the claims, the pinned root's kid in the header: the claims' key is not the pinned one.
    expect(verify(await resigned({ payload: { root: { kty: 'OKP', crv: 'Ed25519', x: (attackerJwk as { x: string }).x } } }, attacker))).toMatchObject({ valid: false, reason: 'WRONG_ROOT' });
    expect(verify(await resigned({ header: { kid: jwkThumbprint(attackerJwk) } }, attacker))).toMatchObject({ valid: false, reason: 'WRONG_ROOT' });
  });

  it('headers that are not the statement’s: another typ, another algorithm, an embedded or remote key', async () => {
    expect(verify(await resigned({ header: { typ: 'JWT' } }))).toMatchObject({ reason: 'WRONG_TYPE' });
    expect(verify(await resigned({ header: { alg: 'none' } }))).toMatchObject({ reason: 'BAD_ALGORITHM' });
    expect(verify(await resigned({ header: { alg: 'ES256' } }))).toMatchObject({ reason: 'BAD_ALGORITHM' });
    expect(verify(await resigned({ header: { alg: 'HS256' } }))).toMatchObject({ reason: 'BAD_ALGORITHM' });
    for (const name of ['jwk', 'jku', 'x5c', 'crit']) expect(verify(await resigned({ header: { [name]: rootOf(b) } }))).toMatchObject({ reason: 'FORBIDDEN_HEADER' });
  });

  it('claims that do not make a statement: missing iss, iat or exp, exp before iat, a lifetime over a week (LIFETIME_TOO_LONG)', async () => {
    const iat = T0.getTime() / 1000;
    for (const payload of [{ iss: undefined }, { iss: 7 }, { iat: '1' }, { exp: undefined }, { exp: iat }, { exp: iat - 10 }]) {
      expect(verify(await resigned({ payload }))).toMatchObject({ valid: false, reason: 'MALFORMED' });
    }
    expect(verify(await resigned({ payload: { exp: iat + 8 * 86_400 } }))).toMatchObject({ valid: false, reason: 'LIFETIME_TOO_LONG' });
  });

  it('a JWKS that is none, holds private members, or keys that are not the peer’s own (another hub’s keys, its root key)', async () => {
    const keys = b.publicJwks().keys;
    for (const jwks of [undefined, [], { keys: 'no' }, { keys: [7] }]) expect(verify(await resigned({ payload: { jwks } }))).toMatchObject({ reason: 'MALFORMED_JWKS' });
    expect(verify(await resigned({ payload: { jwks: { keys: [{ ...keys[0], d: 'secret' }] } } }))).toMatchObject({ reason: 'MALFORMED_JWKS' });
    const otherHubKey = other.publicJwks().keys.find((k) => k.datarun.ownerKind === 'hub')!;
    const foreign = { ...otherHubKey, datarun: { ...otherHubKey.datarun, owner: 'city-c' } };
    expect(verify(await resigned({ payload: { jwks: { keys: [...keys, foreign] } } }))).toMatchObject({ reason: 'FOREIGN_KEY' });
    const rootAsKey = { ...rootOf(b), kid: 'datarun-hub.receipt.x', alg: 'EdDSA', use: 'sig', datarun: { ...keys[0]!.datarun } };
    expect(verify(await resigned({ payload: { jwks: { keys: [...keys, rootAsKey] } } }))).toMatchObject({ reason: 'FOREIGN_KEY' });
  });

  it('what is not a compact JWS at all (MALFORMED), without throwing', () => {
    for (const token of ['', 'a.b', 'a.b.c.d', '!!.??.##', `${'a'.repeat(1024 * 1024 + 1)}`, 42 as unknown as string]) {
      expect(verify(token)).toMatchObject({ valid: false, reason: 'MALFORMED' });
    }
    // Well formed, without a signature.
    expect(verify(good().split('.').slice(0, 2).join('.') + '.')).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });

  it('any change of header, payload or signature (fast-check)', () => {
    const token = good();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...alphabet.split('')), (position, char) => {
        const i = position % token.length;
        fc.pre(token[i] !== '.' && token[i] !== char);
        const changed = token.slice(0, i) + char + token.slice(i + 1);
        // A last character whose unused low bits change decodes to the same bytes: the same statement.
        const same = changed.split('.').every((part, n) => Buffer.from(part, 'base64url').equals(Buffer.from(token.split('.')[n]!, 'base64url')));
        fc.pre(!same);
        expect(verify(changed).valid).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('any change of the claims, kept with the old signature (fast-check)', () => {
    const token = good();
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    fc.assert(
      fc.property(fc.constantFrom('iss', 'iat', 'exp', 'jwks', 'root', 'extra'), fc.jsonValue(), (name, value) => {
        const changed = { ...payload, [name]: value };
        fc.pre(JSON.stringify(changed) !== JSON.stringify(payload));
        expect(verify(`${h}.${b64(changed)}.${s}`).valid).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('a pinned root', () => {
  it('is a public JWK or its thumbprint; anything else is refused with the reason', () => {
    expect(pinnedRootThumbprint(rootOf(b))).toBe(b.federationRoot()!.thumbprint);
    expect(pinnedRootThumbprint(b.federationRoot()!.thumbprint)).toBe(b.federationRoot()!.thumbprint);
    for (const root of ['abc', 'x'.repeat(44), 12, null, {}, { ...rootOf(b), d: 'private' }, { kty: 'OKP', crv: 'Ed25519', x: '!!' }]) {
      expect(() => pinnedRootThumbprint(root)).toThrow(InvalidKeyError);
    }
    expect(() => verifyPeerJwks('a.b.c', { root: 'short' })).toThrow(/RFC 7638 SHA-256 thumbprint/);
  });
});
