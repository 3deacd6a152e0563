import { chmod, copyFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEMO_OWNERS,
  KeyFileInsecureError,
  PrivateKeyMissingError,
  TrustListInvalidError,
  UnknownKeyError,
  UnknownOwnerError,
  createKeyStore,
  createSealer,
  initKeys,
  loadKeyStore,
  revokeKey,
  rotateKey,
  verifySeal,
  type TrustList,
} from '../../../src/seal';
import { demoKeyStore, privateJwkOf, removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const T0 = new Date('2025-03-01T08:00:00Z');
const minutes = (n: number): Date => new Date(T0.getTime() + n * 60_000);
const days = (n: number): Date => new Date(T0.getTime() + n * 86_400_000);

afterAll(removeTempDirs);

function findMember(value: unknown, member: string): boolean {
  if (Array.isArray(value)) return value.some((v) => findMember(v, member));
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k === member || findMember(v, member));
  return false;
}

async function readTrust(dir: string): Promise<TrustList> {
  return JSON.parse(await readFile(join(dir, 'trust.json'), 'utf8')) as TrustList;
}

const record = { department: 'tax', recordType: 'TaxClearance', recordId: 'DT-1', fields: { taxpayer: '张三', deedTaxPaid: true } };

describe('keys', () => {
  it('creates the demo parties with one signing key per use of every party the hub holds keys for', async () => {
    const store = await demoKeyStore(T0);
    expect(store.hubId).toBe('datarun-hub');
    expect(store.owners().map((o) => o.id)).toEqual([...DEMO_OWNERS, ...WITH_DEPARTMENTS.departments].map((o) => o.id));
    expect(store.owner('one-window-hall')?.roles).toEqual(['consumer', 'consent-issuer']);
    expect(store.owner('auditor')?.roles).toEqual(['auditor']);
    const uses = store.trustList().keys.map((k) => `${k.owner}/${k.use}/${k.alg}`);
    expect(uses).toEqual(
      expect.arrayContaining(['datarun-hub/receipt/ES256', 'datarun-hub/checkpoint/ES256', 'tax/seal/ES256', 'real-estate/seal/ES256', 'one-window-hall/request/ES256', 'auditor/request/ES256']),
    );
    expect(uses).toHaveLength(2 + WITH_DEPARTMENTS.departments.length + 11); // hub receipt + checkpoint, one seal per department, nine demo consumers, the peer hub and the consent issuer
  });

  it('publishes seal, receipt and checkpoint keys in the JWKS, but not consumers\' request keys', async () => {
    const store = await demoKeyStore(T0);
    const jwks = store.publicJwks();
    expect(jwks.keys.map((k) => k.datarun.use).sort()).toEqual(['checkpoint', 'receipt', ...WITH_DEPARTMENTS.departments.map(() => 'seal')]);
    for (const key of jwks.keys) expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(JSON.parse(await readFile(join(store.dir, 'jwks.json'), 'utf8'))).toEqual(jwks);
  });

  it('is idempotent: a second init creates nothing and rewrites no file', async () => {
    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0 });
    const before = await Promise.all(['trust.json', 'jwks.json'].map((f) => readFile(join(dir, f), 'utf8')));
    const privateBefore = (await readdir(join(dir, 'private'))).sort();
    const report = await initKeys(dir, { ...WITH_DEPARTMENTS, now: days(1) });
    expect(report).toEqual({ created: [], replaced: [], changed: false });
    expect(await Promise.all(['trust.json', 'jwks.json'].map((f) => readFile(join(dir, f), 'utf8')))).toEqual(before);
    expect((await readdir(join(dir, 'private'))).sort()).toEqual(privateBefore);
  });

  it('writes private keys as 0600 files under private/, and no "d" member into the public files', async () => {
    const store = await demoKeyStore(T0);
    const files = await readdir(join(store.dir, 'private'));
    // Every trust-list key the hub holds, and the federation root key.
    expect(files).toHaveLength(13 + WITH_DEPARTMENTS.departments.length + 1);
    for (const file of files) {
      const path = join(store.dir, 'private', file);
      if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(path, 'utf8'))).toHaveProperty('d');
    }
    for (const file of ['trust.json', 'jwks.json']) expect(findMember(JSON.parse(await readFile(join(store.dir, file), 'utf8')), 'd')).toBe(false);
    expect(findMember(store.publicJwks(), 'd')).toBe(false);
    expect(findMember(store.trustList(), 'd')).toBe(false);
  });

  it('refuses to load a private key file that others can read', async () => {
    if (process.platform === 'win32') return;
    const store = await demoKeyStore(T0);
    const path = store.privateKeyPath('tax', 'seal')!;
    await chmod(path, 0o644);
    await expect(loadKeyStore(store.dir)).rejects.toMatchObject({ code: 'ERR_KEY_FILE_INSECURE', message: `${path} is readable by others (mode 644): it must be 0600` });
    await expect(loadKeyStore(store.dir)).rejects.toBeInstanceOf(KeyFileInsecureError);
  });

  it('names every bad entry of an invalid trust list', async () => {
    const store = await demoKeyStore(T0);
    const trust = await readTrust(store.dir);
    const broken = { ...trust, keys: [{ ...trust.keys[0]!, alg: 'HS256', jwk: { ...trust.keys[0]!.jwk, d: 'secret' } }] };
    await writeFile(join(store.dir, 'trust.json'), JSON.stringify(broken));
    const error = await loadKeyStore(store.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrustListInvalidError);
    expect(error).toMatchObject({ code: 'ERR_TRUST_LIST_INVALID' });
    expect((error as Error).message).toMatch(/^Invalid trust list .*trust\.json:\n {2}- keys\.0\.alg: /);
    expect((error as Error).message).toContain('keys.0.jwk');
  });

  it('on a fresh clone, replaces sandbox keys whose private half is not there, and rewrites the public files', async () => {
    const original = await demoKeyStore(T0);
    const clone = await tempDir();
    for (const file of ['trust.json', 'jwks.json']) await copyFile(join(original.dir, file), join(clone, file));
    const report = await initKeys(clone, { ...WITH_DEPARTMENTS, now: days(1) });
    expect([...report.replaced].sort()).toEqual(original.trustList().keys.map((k) => k.kid).sort());
    expect(report.created).toHaveLength(13 + WITH_DEPARTMENTS.departments.length);
    expect(report.changed).toBe(true);
    const store = await loadKeyStore(clone);
    expect(store.owners()).toEqual(original.owners());
    expect(store.currentKeyId('tax', 'seal')).toBe(report.created.find((kid) => kid.startsWith('tax.seal.')));
    expect(store.resolveKey(original.currentKeyId('tax', 'seal')!)).toBeUndefined();
  });

  it('refuses to start when a key the hub must hold is missing and its owner is not a sandbox', async () => {
    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0, owners: [{ id: 'datarun-hub', kind: 'hub', name: 'hub' }, { id: 'tax', kind: 'department', name: 'Tax' }] });
    const trust = await readTrust(dir);
    const clone = await tempDir();
    await writeFile(join(clone, 'trust.json'), JSON.stringify(trust));
    const kid = trust.keys.find((k) => k.owner === 'tax')!.kid;
    const error = await initKeys(clone, WITH_DEPARTMENTS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrivateKeyMissingError);
    expect(error).toMatchObject({ code: 'ERR_PRIVATE_KEY_MISSING' });
    expect((error as Error).message).toMatch(/^private keys the hub must hold are missing:\n {2}- datarun-hub\.receipt\./);
    expect((error as Error).message).toContain(`\n  - ${kid} (tax, seal): expected ${join(clone, 'private', `${kid}.jwk.json`)}`);
    expect(await readdir(join(clone, 'private'))).toEqual([]);
  });

  it('rotates: the new kid signs from now on and the old one keeps verifying until its validTo', async () => {
    const dir = await tempDir();
    const before = await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 });
    const oldSeal = createSealer({ keyStore: before }).sealRecord({ ...record, issuedAt: minutes(1) });
    const report = await rotateKey(dir, 'tax', { now: days(1) });
    expect(report.created).toHaveLength(1);
    expect(report.retired).toEqual([{ kid: oldSeal.keyId, validTo: days(1 + 3650).toISOString() }]);
    const after = await loadKeyStore(dir, { now: days(1) });
    const newSeal = createSealer({ keyStore: after }).sealRecord({ ...record, issuedAt: days(1) });
    expect(newSeal.keyId).toBe(report.created[0]);
    expect(newSeal.keyId).not.toBe(oldSeal.keyId);
    expect(verifySeal(`${oldSeal.jwt}~`, { keyStore: after, now: days(2) })).toMatchObject({ valid: true, keyId: oldSeal.keyId });
    expect(verifySeal(`${newSeal.jwt}~`, { keyStore: after, now: days(2) })).toMatchObject({ valid: true, keyId: newSeal.keyId });
    expect(verifySeal(`${oldSeal.jwt}~`, { keyStore: after, now: days(3652) })).toMatchObject({ valid: false, reason: 'EXPIRED_KEY', message: 'seal: signing key has expired' });
    expect(after.publicJwks().keys.filter((k) => k.datarun.owner === 'tax')).toHaveLength(2);
  });

  it('rotates a key to another algorithm when asked (ES384, EdDSA)', async () => {
    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0 });
    await rotateKey(dir, 'tax', { now: minutes(1), alg: 'EdDSA' });
    await rotateKey(dir, 'real-estate', { now: minutes(1), alg: 'ES384' });
    const store = await loadKeyStore(dir);
    const jwks = store.publicJwks();
    expect(jwks.keys.find((k) => k.kid === store.currentKeyId('tax', 'seal'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys.find((k) => k.kid === store.currentKeyId('real-estate', 'seal'))).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384' });
    const sealer = createSealer({ keyStore: store });
    for (const department of ['tax', 'real-estate']) {
      const sealed = sealer.sealRecord({ ...record, department, issuedAt: minutes(2) });
      expect(verifySeal(`${sealed.jwt}~`, { jwks, now: minutes(3) })).toMatchObject({ valid: true, issuer: department, algorithm: department === 'tax' ? 'EdDSA' : 'ES384' });
    }
  });

  it('pins an algorithm per owner from the start', async () => {
    const dir = await tempDir();
    await initKeys(dir, { now: T0, owners: [{ id: 'datarun-hub', kind: 'hub', name: 'hub', alg: 'ES384' }, { id: 'tax', kind: 'department', name: 'Tax', alg: 'EdDSA' }] });
    const store = await loadKeyStore(dir);
    expect(store.trustList().keys.map((k) => `${k.owner}/${k.use}/${k.alg}`).sort()).toEqual(['datarun-hub/checkpoint/ES384', 'datarun-hub/receipt/ES384', 'tax/seal/EdDSA']);
  });

  it('revokes at a given time: what was signed before still verifies, nothing signed from then on does', async () => {
    const dir = await tempDir();
    const store = await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 });
    const sealer = createSealer({ keyStore: store });
    const before = sealer.sealRecord({ ...record, issuedAt: minutes(10) });
    const after = sealer.sealRecord({ ...record, issuedAt: minutes(30) });
    const report = await revokeKey(dir, before.keyId, minutes(20), { now: minutes(40) });
    expect(report.key.revokedAt).toBe(minutes(20).toISOString());
    expect(report.created).toHaveLength(1);
    const reloaded = await loadKeyStore(dir, { now: minutes(40) });
    expect(verifySeal(`${before.jwt}~`, { keyStore: reloaded, now: minutes(50) })).toMatchObject({ valid: true });
    expect(verifySeal(`${after.jwt}~`, { keyStore: reloaded, now: minutes(50) })).toEqual({
      valid: false,
      reason: 'REVOKED_KEY',
      message: 'seal: signing key was revoked before the token was issued',
      keyId: before.keyId,
      disclosed: {},
    });
    expect(reloaded.currentKeyId('tax', 'seal')).toBe(report.created[0]);
    expect(reloaded.publicJwks().keys.find((k) => k.kid === before.keyId)?.datarun.revokedAt).toBe(minutes(20).toISOString());
  });

  it('never moves a revocation time later', async () => {
    const dir = await tempDir();
    const store = await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 });
    const kid = store.currentKeyId('tax', 'seal')!;
    await revokeKey(dir, kid, minutes(20), { now: minutes(30) });
    const report = await revokeKey(dir, kid, minutes(60), { now: minutes(70) });
    expect(report.key.revokedAt).toBe(minutes(20).toISOString());
    expect(report.created).toEqual([]);
  });

  it('registers a consumer\'s own new public key when the hub does not hold its keys', async () => {
    const dir = await tempDir();
    await initKeys(dir, { ...WITH_DEPARTMENTS, now: T0, owners: [{ id: 'datarun-hub', kind: 'hub', name: 'hub' }, { id: 'land-bureau', kind: 'consumer', name: 'Land bureau', roles: ['consumer'] }] });
    const { generateKeyPairSync } = await import('node:crypto');
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const report = await rotateKey(dir, 'land-bureau', { now: minutes(1), publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } });
    expect(report.created[0]).toMatch(/^land-bureau\.request\./);
    await expect(rotateKey(dir, 'land-bureau')).rejects.toMatchObject({ code: 'ERR_JWK_INVALID', message: 'the hub does not hold the keys of land-bureau: pass the new public JWK' });
  });

  it('names unknown owners and kids', async () => {
    const store = await demoKeyStore(T0);
    await expect(rotateKey(store.dir, 'nobody')).rejects.toEqual(new UnknownOwnerError('unknown owner: nobody'));
    await expect(rotateKey(store.dir, 'nobody')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_OWNER' });
    await expect(revokeKey(store.dir, 'tax.seal.nope')).rejects.toEqual(new UnknownKeyError('unknown key: tax.seal.nope'));
    await expect(revokeKey(store.dir, 'tax.seal.nope')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_KEY' });
  });

  it('gives the sandbox consumers\' private key files to the CLI and tests, and none for the hub\'s public-only parties', async () => {
    const store = await demoKeyStore(T0);
    expect(store.privateKeyPath('one-window-hall')).toMatch(/private[/\\]one-window-hall\.request\.[A-Za-z0-9_-]{16}\.jwk\.json$/);
    expect(privateJwkOf(store, 'one-window-hall')).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: store.currentKeyId('one-window-hall', 'request') });
    expect(store.privateKeyPath('nobody')).toBeUndefined();
  });
});
