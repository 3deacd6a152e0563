/**
 * The proof pages over a real hub (startTestHub with a `proofPages` source built from the real
 * library and the hub's key store): GET /p/<ref>, GET and POST /verify with a proof, its QR text,
 * a reference, a revoked proof, a bound proof without its key binding, garbage; the transport
 * refusals (415, 413, 405); and /verify keeping nothing: the hub's log (every level) holds no part
 * of any proof it was shown, the access log does not grow, no file of the hub changes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { encodeProofForQr, PROOF_REASON_ZH, presentProof } from '../../src/proofs';
import { startTestHub, type TestHub } from '../support/hub';
import { testProofPages, type TestProofPages } from '../support/proof-pages';

let hub: TestHub;
let pages: TestProofPages;
const logLines: string[] = [];

beforeAll(async () => {
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  hub = await startTestHub({ logger, proofPages: (gateway) => (pages = testProofPages(gateway)) });
  pages.publicUrl = hub.url;
});
afterAll(async () => {
  await hub?.close();
});

const postVerify = (proof: string, init: RequestInit = {}) =>
  fetch(`${hub.url}/verify`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ proof }).toString(), ...init });

/** Every file under the hub's directory, with its size and modification time. */
function filesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const full = path.join(e.parentPath, e.name);
      const st = statSync(full);
      return `${path.relative(dir, full)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

describe('GET /p/<ref>', () => {
  it('serves the printable page of a stored proof, not cached, under the pages\' CSP', async () => {
    const { token } = pages.issue();
    pages.stored.set('ref-1', token);
    const res = await fetch(`${hub.url}/p/ref-1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'self';/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    for (const text of ['无欠税证明', '税务部门 Tax', '是否欠税', '未绑定持有人，适用于纸质', '有效（已查询状态列表，未撤销）', `${hub.url}/verify`, '<svg class="qr"', '二维码内含完整证明']) expect(html).toContain(text);
    const css = await fetch(`${hub.url}/proof/proof.css`);
    expect(css.status).toBe(200);
    expect(await css.text()).toContain('@page { size: A4');
  });

  it('404 for an unknown reference; other methods 405', async () => {
    const res = await fetch(`${hub.url}/p/nope`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('未找到此证明');
    expect((await fetch(`${hub.url}/p/nope`, { method: 'DELETE' })).status).toBe(405);
    // A path that cannot be a reference (too long, other characters, deeper) gets the same page, not another route's answer.
    for (const bad of [`/p/${'a'.repeat(129)}`, '/p/a.b', '/p/', '/p/a/b', '/p/%E8%AF%81']) {
      const other = await fetch(`${hub.url}${bad}`);
      expect([bad, other.status, other.headers.get('content-type')]).toEqual([bad, 404, 'text/html; charset=utf-8']);
      expect(await other.text()).toContain('未找到此证明');
    }
  });
});

describe('/verify', () => {
  it('GET: the form', async () => {
    const res = await fetch(`${hub.url}/verify`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<form method="post" action="/verify">');
  });

  it('POST: a valid proof, its QR text and its reference all say 证明有效 with the facts', async () => {
    const { token } = pages.issue();
    pages.stored.set('ref-2', token);
    for (const input of [token, encodeProofForQr(token).text, `\n${encodeProofForQr(token).text}\r\n`, `${hub.url}/p/ref-2`]) {
      const res = await postVerify(input);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toContain('证明有效');
      expect(html).toContain('是否欠税');
      expect(html).toContain('办理贷款');
      // The proof is not echoed back.
      expect(html).not.toContain(token.slice(0, 40));
    }
  });

  it('POST: a revoked proof, a tampered one, garbage, another hub\'s reference: each says why in Chinese', async () => {
    const revoked = await (await postVerify(pages.issue({ idx: 4 }).token)).text();
    expect(revoked).toContain(`证明无效：${PROOF_REASON_ZH.REVOKED}`);
    const { token } = pages.issue();
    const tampered = await (await postVerify(token.replace(/\.([A-Za-z0-9_-])/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`))).text();
    expect(tampered).toMatch(/证明无效：/);
    expect(await (await postVerify('DRP1:not base45')).text()).toContain('内容无法识别');
    expect(await (await postVerify('garbage')).text()).toContain(`证明无效：${PROOF_REASON_ZH.MALFORMED}`);
    expect(await (await postVerify('https://elsewhere.example/p/abc')).text()).toContain('该二维码指向另一个网站');
    expect(await (await postVerify(`${hub.url}/p/unknown`)).text()).toContain('证明编号不存在或已过期');
    const empty = await postVerify('   ');
    expect(empty.status).toBe(400);
  });

  it('POST: a bound proof without its key binding shows the issuer part and says the holder must present it', async () => {
    const holder = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { token } = pages.issue({ holderJwk: holder.publicKey });
    const html = await (await postVerify(presentProof(token, { disclose: ['hasArrears'] }))).text();
    expect(html).toContain('签发部分有效');
    expect(html).toContain('密钥绑定 JWT');
    expect(html).toContain('是否欠税');
    expect(html).not.toContain('纳税人名称');
  });

  it('refuses another media type (415), a body over the limit (413), another method (405)', async () => {
    expect((await fetch(`${hub.url}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(415);
    expect((await postVerify('A'.repeat(300 * 1024))).status).toBe(413);
    const put = await fetch(`${hub.url}/verify`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('keeps nothing: no log line holds any part of the proofs it verified, no access record, no file written', async () => {
    const { token } = pages.issue({ claims: { taxpayerName: '李四不记录', hasArrears: false } });
    const auditBefore = hub.gateway.audit?.health().seq;
    const filesBefore = filesOf(hub.keysDir);
    const linesBefore = logLines.length;
    for (const input of [token, encodeProofForQr(token).text, token.slice(0, -5)]) expect((await postVerify(input)).status).toBe(200);
    expect(hub.gateway.audit?.health().seq).toBe(auditBefore);
    expect(filesOf(hub.keysDir)).toEqual(filesBefore);
    // The capture works: a GraphQL request is logged into it.
    await hub.query('{ __typename }');
    expect(logLines.length).toBeGreaterThan(linesBefore);
    const log = logLines.join('');
    const pieces = [...token.split(/[.~]/).filter((p) => p.length >= 16).map((p) => p.slice(0, 16)), encodeProofForQr(token).text.slice(5, 25), '李四不记录'];
    for (const piece of pieces) expect(log).not.toContain(piece);
    // Not even a line about the request.
    expect(logLines.filter((l) => /\/verify|\/p\//.test(l))).toEqual([]);
  });
});
