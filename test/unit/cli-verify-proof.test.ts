/**
 * `datarun verify` of a proof: the SD-JWT VC or its QR payload against a JWKS file, the status
 * fetched from the list's uri (here a function standing in for the GET) or left unchecked with
 * --offline, what was proven printed in Chinese; exit 6 with the reason for a revoked, tampered,
 * or wrongly bound proof; a QR code holding only a reference is a usage error.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { runKeysInit } from '../../src/cli/keys';
import { runVerify } from '../../src/cli/verify';
import { createStatusListSigner, encodeProofForQr, issueProofVc, presentProof, signStatusListToken, STATUS } from '../../src/proofs';
import { loadKeyStore, type KeyStore } from '../../src/seal';
import { WITH_DEPARTMENTS } from '../support/keys';
import { removeTempDirs, tempDir } from './seal/fixture';

const URI = 'https://hub.example.gov.cn/status/0';
const NOW = new Date();
let dir: string;
let store: KeyStore;

beforeAll(async () => {
  dir = await tempDir();
  await runKeysInit({ ...WITH_DEPARTMENTS, dir, out: () => undefined });
  store = await loadKeyStore(dir);
});
afterAll(removeTempDirs);

function collector(): { out: (line: string) => void; text: () => string } {
  const lines: string[] = [];
  return { out: (line) => lines.push(line), text: () => lines.join('\n') };
}

const issue = (over: { holderJwk?: unknown; idx?: number } = {}) =>
  issueProofVc({
    keyStore: store,
    department: 'tax',
    kind: 'NO_TAX_ARREARS',
    purpose: '办理贷款',
    asOf: Date.UTC(2026, 2, 6, 1, 0, 0),
    subjectKind: 'PERSON',
    claims: { hasArrears: false, taxpayerName: '张三' },
    validitySeconds: 86_400,
    status: { idx: over.idx ?? 3, uri: URI },
    ...(over.holderJwk ? { holderJwk: over.holderJwk as never } : {}),
  });

/** The status list: entry 3 valid, 4 revoked, 5 suspended. */
const statusList = async (uri: string): Promise<string> => {
  if (uri !== URI) throw new Error(`unexpected ${uri}`);
  return signStatusListToken({ uri, bits: 2, statuses: [0, 0, 0, STATUS.VALID, STATUS.INVALID, STATUS.SUSPENDED, 0, 0], ttlSeconds: 300, sign: createStatusListSigner({ keyStore: store }) });
};
const verify = (token: string, over: Record<string, unknown> = {}) => {
  const c = collector();
  return runVerify({ token, jwks: join(dir, 'jwks.json'), out: c.out, fetchStatusList: statusList, ...over }).then((code) => ({ code, text: c.text() }));
};

describe('datarun verify: proofs', () => {
  it('prints what a valid proof proves, by whom, as of when, for which purpose, and that its status was checked', async () => {
    const issued = issue();
    const { code, text } = await verify(issued.token);
    expect(code).toBe(0);
    expect(text).toContain('有效 VALID 证明 NO_TAX_ARREARS\n  证明内容   hasArrears: 否 (false)\n             taxpayerName: 张三\n');
    expect(text).toContain(`  签发部门   tax（密钥 ${issued.keyId}）\n  截至时间   2026-03-06 09:00:00（北京时间）\n  事由       办理贷款\n`);
    expect(text).toContain('  持有人     未绑定持有人，适用于纸质\n  状态       有效（已查询状态列表，未撤销）');
  });

  it('reads the QR payload too, and --offline leaves the status unchecked', async () => {
    const { text: qr } = encodeProofForQr(presentProof(issue().token, { disclose: ['hasArrears'] }));
    const { code, text } = await verify(qr, { offline: true, fetchStatusList: () => Promise.reject(new Error('must not be fetched')) });
    expect(code).toBe(0);
    expect(text).toContain('  证明内容   hasArrears: 否 (false)\n  签发部门');
    expect(text).toContain('  状态       未查询状态列表（是否已撤销未知）（--offline）');
  });

  it('exits 6 with the reason: revoked, suspended, status unavailable, tampered, damaged QR', async () => {
    expect(await verify(issue({ idx: 4 }).token)).toMatchObject({ code: 6, text: expect.stringContaining('无效 INVALID: 证明已被签发部门撤销，所证明的情况已发生变化。 (REVOKED)') });
    expect(await verify(issue({ idx: 5 }).token)).toMatchObject({ code: 6, text: expect.stringMatching(/^已暂停 SUSPENDED 证明/) });
    expect(await verify(issue().token, { fetchStatusList: () => Promise.reject(new Error('GET answered 503')) })).toMatchObject({ code: 6, text: expect.stringContaining('(STATUS_UNAVAILABLE)\n  详情       the status list https://hub.example.gov.cn/status/0 could not be fetched: GET answered 503') });
    const [jwt, ...rest] = issue().token.split('~');
    const [h, p, s] = jwt!.split('.');
    const tampered = [`${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`, ...rest].join('~');
    expect(await verify(tampered)).toMatchObject({ code: 6, text: expect.stringContaining('(BAD_SIGNATURE)') });
    expect(await verify('DRP1:%%%%')).toMatchObject({ code: 6, text: expect.stringContaining('(PROOF_QR_INVALID)') });
  });

  it('a bound proof: its key binding verified with --nonce and --aud; a wrong nonce or none at all exits 6', async () => {
    const holder = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = issue({ holderJwk: holder.publicKey });
    const presented = presentProof(issued.token, { disclose: ['hasArrears'], holderKey: holder.privateKey, nonce: 'n-1', audience: 'bank' });
    const ok = await verify(presented, { nonce: 'n-1', aud: 'bank' });
    expect(ok.code).toBe(0);
    expect(ok.text).toContain('  持有人     已绑定，持有人签名已核验（出示于');
    expect(await verify(presented, { nonce: 'n-2', aud: 'bank' })).toMatchObject({ code: 6, text: expect.stringContaining('(WRONG_NONCE)') });
    expect(await verify(presented, { nonce: 'n-1', aud: 'shop' })).toMatchObject({ code: 6, text: expect.stringContaining('(WRONG_AUDIENCE)') });
    expect(await verify(presentProof(issued.token, { disclose: 'all' }))).toMatchObject({ code: 6, text: expect.stringContaining('(MISSING_KEY_BINDING)') });
  });

  it('a QR code holding only a reference URL is a usage error naming it', async () => {
    await expect(verify('https://hub.example.gov.cn/p/abc')).rejects.toMatchObject({ code: 'CLI_USAGE', message: expect.stringContaining('https://hub.example.gov.cn/p/abc') });
  });
});
