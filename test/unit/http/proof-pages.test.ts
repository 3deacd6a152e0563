/**
 * The proof pages as HTML: the printable page of a real proof (every fact, Beijing time, the
 * holder binding, how to verify), its QR code read back from the SVG with jsQR, the /verify
 * verdicts, and escaping: no claim name, value, label, title or purpose can add markup.
 */
import fc from 'fast-check';
import jsQR from 'jsqr';
import type { ProofDisplay, ProofVerified } from '../../../src/gateway';
import { escapeHtml, maskIdentifiers, qrSvg, renderProofPage, renderVerifyForm, renderVerifyResult } from '../../../src/http/proof-pages';
import { encodeProofForQr, issueProofVc, presentProof, verifyProof, PROOF_REASON_ZH } from '../../../src/proofs';
import type { KeyStore } from '../../../src/seal';
import { generateKeyPairSync } from 'node:crypto';
import { demoKeyStore, removeTempDirs } from '../seal/fixture';

const NOW = Date.UTC(2026, 2, 6, 2, 0, 0);
const HUB = 'https://hub.example.gov.cn';
let store: KeyStore;

beforeAll(async () => {
  store = await demoKeyStore(new Date(NOW - 86_400_000));
});
afterAll(removeTempDirs);

const issue = (holder?: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
  issueProofVc({
    keyStore: store,
    department: 'tax',
    kind: 'NO_TAX_ARREARS',
    purpose: '办理贷款',
    asOf: NOW - 3_600_000,
    subjectKind: 'PERSON',
    claims: { taxpayerName: '张三', hasArrears: false },
    validitySeconds: 30 * 86_400,
    now: NOW,
    ...(holder ? { holderJwk: holder } : {}),
  });

const labels = { title: '无欠税证明', titleEn: 'Certificate of no tax arrears', departmentName: '税务部门', purposeName: '办理贷款（银行）', subject: '张* 3701**********1234', claimLabels: { taxpayerName: '纳税人名称', hasArrears: '是否欠税' } };

/** The modules of an SVG drawn by qrSvg, rendered as RGBA pixels (4 per module) for jsQR. */
function readSvgQr(svg: string): string | undefined {
  const size = Number(/viewBox="0 0 (\d+) \d+"/.exec(svg)![1]);
  const scale = 4;
  const px = size * scale;
  const data = new Uint8ClampedArray(px * px * 4).fill(255);
  for (const m of svg.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    const x = Number(m[1]);
    const y = Number(m[2]);
    for (let dy = 0; dy < scale; dy++)
      for (let dx = 0; dx < scale; dx++) {
        const i = ((y * scale + dy) * px + x * scale + dx) * 4;
        data[i] = data[i + 1] = data[i + 2] = 0;
      }
  }
  return jsQR(data, px, px)?.data;
}

describe('renderProofPage', () => {
  it('shows every fact of a real unbound proof, in Chinese first, and a QR code that reads back to the proof', async () => {
    const issued = issue();
    const result = await verifyProof(issued.token, { keys: { keyStore: store }, now: NOW + 60_000 });
    expect(result.valid).toBe(true);
    const qr = encodeProofForQr(issued.token, { referenceUrl: `${HUB}/p/abc` });
    expect(qr.embedded).toBe(true);
    const html = renderProofPage({ result, ...labels }, { qrText: qr.text, hubUrl: `${HUB}/` });
    for (const text of ['无欠税证明', 'Certificate of no tax arrears', '张* 3701**********1234', '纳税人名称', '张三', '是否欠税', '否 No', '税务部门', '办理贷款（银行）', '2026-03-06 09:00:00（北京时间）', '2026-03-06 10:00:00（北京时间）', '2026-04-05 10:00:00（北京时间）', '未绑定持有人，适用于纸质', '状态列表', 'https://hub.example.gov.cn/verify', '<svg class="qr"']) {
      expect(html).toContain(text);
    }
    expect(html.startsWith('<!doctype html>\n<html lang="zh-CN">')).toBe(true);
    expect(html).not.toMatch(/<script|<nav|<a /);
    const svg = /<svg[\s\S]*?<\/svg>/.exec(html)![0];
    expect(readSvgQr(svg)).toBe(qr.text);
  });

  it('masks identity numbers and credit codes among the claims, at any depth, on paper only: /verify shows what was disclosed', async () => {
    const id = '37010219900101123X';
    const code = '91370100MA3C4XY01K';
    const claims = { taxpayerId: id, name: '张三', registered: true, owners: [{ creditCode: code, share: '1/2' }], unitNumber: '370102001001GB00001F00010001', phone: '0531-12345678' };
    const result = await verifyProof(issueProofVc({ keyStore: store, department: 'tax', kind: 'NO_TAX_ARREARS', purpose: '办理贷款', asOf: NOW - 3_600_000, subjectKind: 'PERSON', claims, validitySeconds: 86_400, now: NOW }).token, { keys: { keyStore: store }, now: NOW + 60_000 });
    const printed = renderProofPage({ result, ...labels }, { qrText: 'DRP1:ABC', hubUrl: HUB });
    expect(printed).not.toContain(id);
    expect(printed).not.toContain(code);
    for (const text of ['3701**********123X', '9137**********Y01K', '张三', '370102001001GB00001F00010001', '0531-12345678']) expect(printed).toContain(text);
    const verified = renderVerifyResult({ result, ...labels });
    expect(verified).toContain(id);
    expect(verified).toContain(code);
  });

  it('maskIdentifiers: no identity number or credit code survives in any JSON value, and nothing else changes', () => {
    const idNumber = fc.tuple(fc.stringMatching(/^\d{17}$/), fc.constantFrom(...'0123456789X')).map(([a, b]) => a + b);
    const creditCode = fc.stringMatching(/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/);
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), idNumber, creditCode, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const masked = JSON.stringify(maskIdentifiers(v)) ?? '';
        const strings = (x: unknown): string[] => (typeof x === 'string' ? [x] : Array.isArray(x) ? x.flatMap(strings) : x !== null && typeof x === 'object' ? Object.values(x).flatMap(strings) : []);
        for (const s of strings(maskIdentifiers(v))) expect(s).not.toMatch(/^(?:\d{17}[\dX]|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})$/);
        // Only the identifiers change: same shape, same length.
        expect(masked.length).toBe((JSON.stringify(v) ?? '').length);
      }),
      { numRuns: 300 },
    );
  });

  it('says a proof that does not verify is not valid, and why, without its contents', () => {
    const html = renderProofPage({ result: { valid: false, reason: 'REVOKED', detail: 'x' }, ...labels }, { qrText: 'DRP1:00', hubUrl: HUB });
    expect(html).toContain('证明无效');
    expect(html).toContain(PROOF_REASON_ZH.REVOKED);
    expect(html).not.toContain('张三');
  });
});

describe('renderVerifyResult', () => {
  it('a valid proof: 证明有效, the facts and the status', async () => {
    const result = await verifyProof(issue().token, { keys: { keyStore: store }, now: NOW + 60_000 });
    const html = renderVerifyResult({ result, ...labels });
    expect(html).toContain('证明有效');
    expect(html).toContain('未查询状态列表');
  });

  it('a bound proof without its key binding: the issuer part is shown, and the holder must present it with a KB-JWT', async () => {
    const holder = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = issue(holder.publicKey);
    const result = await verifyProof(presentProof(issued.token, { disclose: ['hasArrears'] }), { keys: { keyStore: store }, now: NOW + 60_000, allowMissingKeyBinding: true });
    expect(result).toMatchObject({ valid: true, keyBindingMissing: true, holderBound: false });
    const html = renderVerifyResult({ result, ...labels });
    expect(html).toContain('签发部分有效');
    expect(html).toContain('密钥绑定 JWT');
    expect(html).toContain('是否欠税');
    expect(html).not.toContain('证明有效<');
    // Without the allowance the library still refuses it.
    expect(await verifyProof(presentProof(issued.token, { disclose: 'all' }), { keys: { keyStore: store }, now: NOW + 60_000 })).toMatchObject({ valid: false, reason: 'MISSING_KEY_BINDING' });
  });

  it.each(Object.keys(PROOF_REASON_ZH))('a refusal %s is one Chinese sentence', (reason) => {
    const html = renderVerifyResult({ result: { valid: false, reason: reason as never, detail: '<b>detail</b>' } });
    expect(html).toContain(`证明无效：${escapeHtml(PROOF_REASON_ZH[reason as keyof typeof PROOF_REASON_ZH])}`);
    expect(html).not.toContain('<b>');
  });

  it('the form posts to /verify and echoes only an escaped message', () => {
    const html = renderVerifyForm('<img src=x>');
    expect(html).toContain('<form method="post" action="/verify">');
    expect(html).toContain('&lt;img src=x&gt;');
  });
});

describe('escaping', () => {
  const tagsOf = (html: string): string[] => [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[0]);
  const hostile = fc.oneof(fc.string(), fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'&lt;", '</td></tr></table><a href="x">', '<svg onload=alert(1)>', 'toString', 'constructor', '__proto__'));

  it('no claim name, value, label, title, purpose, department or subject adds markup', () => {
    const base: ProofVerified = {
      valid: true,
      kind: 'NO_TAX_ARREARS',
      vct: 'urn:datarun:proof:NO_TAX_ARREARS',
      department: 'dept',
      keyId: 'k',
      purpose: 'p',
      asOf: new Date(NOW),
      subjectKind: 'PERSON',
      subject: undefined,
      issuedAt: new Date(NOW),
      expiresAt: new Date(NOW + 1000),
      disclosed: {},
      holderBound: false,
      status: 'VALID',
      presentedAt: undefined,
    };
    fc.assert(
      fc.property(hostile, hostile, fc.jsonValue(), hostile, hostile, hostile, (name, text, value, label, title, purpose) => {
        const display: ProofDisplay = {
          result: { ...base, purpose, department: text, subjectKind: label, disclosed: { [name]: value, other: text } },
          title,
          titleEn: text,
          subject: label,
          claimLabels: { [name]: label },
        };
        const plain: ProofDisplay = { result: { ...base, disclosed: { a: 1, other: 'x' } }, title: 'T', titleEn: 'E', subject: 'S', claimLabels: { a: 'L' } };
        const opts = { qrText: 'DRP1:ABC', hubUrl: HUB };
        expect(tagsOf(renderProofPage(display, opts))).toEqual(tagsOf(renderProofPage(plain, opts)));
        expect(tagsOf(renderVerifyResult(display))).toEqual(tagsOf(renderVerifyResult(plain)));
      }),
      { numRuns: 200 },
    );
  });

  it('escapes & < > " \' and nothing else', () => {
    expect(escapeHtml(`a&b<c>d"e'f 中文`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f 中文');
  });

  it('draws a Byte-mode QR code for a reference URL that reads back', () => {
    expect(readSvgQr(qrSvg(`${HUB}/p/Ab3_x-9`, 'label'))).toBe(`${HUB}/p/Ab3_x-9`);
  });
});
