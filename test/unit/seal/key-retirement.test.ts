import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runKeysRevoke } from '../../../src/cli/keys';
import { RevocationTimeError, createKeyStore, createReceiptSigner, createSealer, hashJson, hashText, loadKeyStore, revokeKey, rotateKey, verifySeal, type TrustList } from '../../../src/seal';
import { removeTempDirs, tempDir } from './fixture';
import { WITH_DEPARTMENTS } from '../../support/keys';

const T0 = new Date('2025-03-01T08:00:00Z');
const minutes = (n: number): Date => new Date(T0.getTime() + n * 60_000);

afterAll(removeTempDirs);

async function readTrust(dir: string): Promise<TrustList> {
  return JSON.parse(await readFile(join(dir, 'trust.json'), 'utf8')) as TrustList;
}

/** The kid a fresh sealer of a freshly loaded store signs a tax seal with at `at`. */
async function sealingKid(dir: string, at: Date): Promise<string> {
  const store = await loadKeyStore(dir, { now: at });
  const sealed = createSealer({ keyStore: store }).sealRecord({ department: 'tax', recordType: 'DeedTaxPayment', recordId: 'DT-1', fields: { paid: true }, issuedAt: at });
  expect(verifySeal(`${sealed.jwt}~`, { keyStore: store, now: at })).toMatchObject({ valid: true, keyId: sealed.keyId });
  return sealed.keyId;
}

describe('retired keys never sign again', () => {
  it('after rotate, rotate, revoke current: a new key signs, and neither old kid does', async () => {
    const dir = await tempDir();
    const k0 = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 })).currentKeyId('tax', 'seal')!;
    const k1 = (await rotateKey(dir, 'tax', { now: minutes(1) })).created[0]!;
    const k2 = (await rotateKey(dir, 'tax', { now: minutes(2) })).created[0]!;
    expect(await sealingKid(dir, minutes(2))).toBe(k2);
    const report = await revokeKey(dir, k2, minutes(3), { now: minutes(3) });
    expect(report.created).toHaveLength(1);
    const k3 = report.created[0]!;
    expect([k0, k1, k2]).not.toContain(k3);
    expect(k3).toMatch(/^tax\.seal\./);
    const store = await loadKeyStore(dir, { now: minutes(4) });
    expect(store.currentKeyId('tax', 'seal')).toBe(k3);
    expect(await sealingKid(dir, minutes(4))).toBe(k3);
    const keys = (await readTrust(dir)).keys.filter((k) => k.owner === 'tax');
    expect(keys.map((k) => [k.kid, k.validTo !== null, k.revokedAt !== null])).toEqual([
      [k0, true, false],
      [k1, true, false],
      [k2, false, true],
      [k3, false, false],
    ]);
  });

  it('revoking the current key from a future time makes a new key that signs at once; the scheduled key never signs again', async () => {
    const dir = await tempDir();
    const k0 = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 })).currentKeyId('tax', 'seal')!;
    const report = await revokeKey(dir, k0, minutes(60), { now: minutes(1) });
    expect(report.created).toHaveLength(1);
    expect(await sealingKid(dir, minutes(2))).toBe(report.created[0]);
  });

  it('revoking a rotated-out key makes no new key: the current one keeps signing', async () => {
    const dir = await tempDir();
    const k0 = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 })).currentKeyId('tax', 'seal')!;
    const k1 = (await rotateKey(dir, 'tax', { now: minutes(1) })).created[0]!;
    const report = await revokeKey(dir, k0, minutes(2), { now: minutes(2) });
    expect(report.created).toEqual([]);
    expect(await sealingKid(dir, minutes(3))).toBe(k1);
  });

  it('does not bring a rotated-out key back when every key of an owner is retired: there is no signer until one is made', async () => {
    const dir = await tempDir();
    const k0 = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: T0 })).currentKeyId('datarun-hub', 'receipt')!;
    const k1 = (await rotateKey(dir, 'datarun-hub', { use: 'receipt', now: minutes(1) })).created[0]!;
    // A trust list left as the old revocation left it: the current key revoked, no replacement.
    const trust = await readTrust(dir);
    await writeFile(join(dir, 'trust.json'), JSON.stringify({ ...trust, keys: trust.keys.map((k) => (k.kid === k1 ? { ...k, revokedAt: minutes(2).toISOString() } : k)) }));
    const damaged = await loadKeyStore(dir, { now: minutes(3) });
    expect(damaged.currentKeyId('datarun-hub', 'receipt')).toBeUndefined();
    const input = { requestId: 'r', consumer: 'c', purpose: 'p', case: 'k', operator: 'o', time: minutes(3), queryHash: hashText('q'), dataHash: hashJson({}) };
    expect(() => createReceiptSigner({ keyStore: damaged }).signReceipt(input, minutes(3))).toThrow(expect.objectContaining({ code: 'ERR_NO_SIGNING_KEY' }));
    const repaired = await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: minutes(4) });
    const k2 = repaired.currentKeyId('datarun-hub', 'receipt');
    expect([undefined, k0, k1]).not.toContain(k2);
  });
});

describe('revocation time', () => {
  it('refuses a revocation time before the key\'s validFrom, naming both times, and changes nothing', async () => {
    const dir = await tempDir();
    const kid = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: minutes(10) })).currentKeyId('tax', 'seal')!;
    const before = await readFile(join(dir, 'trust.json'), 'utf8');
    const refusal = revokeKey(dir, kid, minutes(5), { now: minutes(20) });
    await expect(refusal).rejects.toBeInstanceOf(RevocationTimeError);
    await expect(revokeKey(dir, kid, minutes(5), { now: minutes(20) })).rejects.toMatchObject({
      code: 'ERR_REVOCATION_TIME_INVALID',
      message: `cannot revoke ${kid} from ${minutes(5).toISOString()}: that is before the key's validFrom ${minutes(10).toISOString()}`,
    });
    expect(await readFile(join(dir, 'trust.json'), 'utf8')).toBe(before);
    await expect(revokeKey(dir, kid, minutes(10), { now: minutes(20) })).resolves.toMatchObject({ key: { revokedAt: minutes(10).toISOString() } });
  });

  it('datarun keys revoke refuses --at before the key\'s validFrom with the same coded error', async () => {
    const dir = await tempDir();
    const kid = (await createKeyStore(dir, { ...WITH_DEPARTMENTS, now: minutes(10) })).currentKeyId('tax', 'seal')!;
    await expect(runKeysRevoke({ dir, kid, at: minutes(0).toISOString(), out: () => undefined })).rejects.toMatchObject({
      code: 'ERR_REVOCATION_TIME_INVALID',
      message: `cannot revoke ${kid} from ${minutes(0).toISOString()}: that is before the key's validFrom ${minutes(10).toISOString()}`,
    });
    await expect(runKeysRevoke({ dir, kid, at: 'yesterday', out: () => undefined })).rejects.toMatchObject({ code: 'ERR_REVOCATION_TIME_INVALID', message: '--at must be an ISO 8601 time, but got: yesterday' });
  });
});
