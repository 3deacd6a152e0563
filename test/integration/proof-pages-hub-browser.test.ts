/**
 * The proof pages in headless Chromium over proofs a signed hub really issued (`issueProof` with
 * the citizen's consent, the gateway's own `ProofPagesSource`), docs/proofs.md "Printing" and
 * "Verifying":
 *
 * - a 无欠税证明 and a 无房证明, unbound: `/p/<reference>` printed (print media, A4), its QR code
 *   read from a screenshot with jsQR, decoded (`decodeProofFromQr`) and verified offline against
 *   the hub's JWKS and status list; the page says in Chinese what the proof is, about whom
 *   (masked), what it proves, by whom, why, until when, 「未绑定持有人」, and shows no identity
 *   number in full;
 * - a holder-bound proof: its page says it is bound, /verify says the holder must present it with
 *   a key-binding JWT;
 * - /verify: the QR text pasted, 证明有效; the tax administration records new arrears, the change
 *   feed revokes the proof, /verify says it was revoked, and its page is gone (404);
 * - a 不动产登记信息 too big for a QR code prints its reference URL, which /verify follows.
 *
 * One hub and one browser for the file. Screenshots go to the git-ignored
 * test-artifacts/proof-pages-hub/.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { decodeProofFromQr, encodeProofForQr, MAX_PROOF_QR_CHARS, PROOF_QR_PREFIX, verifyProof, type ProofVerification } from '../../src/proofs';
import { createConsentSigner, type PrivateJwk } from '../../src/seal';
import { launchChromium, newCheckedPage, readQrCode } from '../support/chromium';
import { startTestHub, type TestHub } from '../support/hub';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/proof-pages-hub');
const PROOF = { purpose: 'PROOF_ISSUANCE', caseNumber: 'WZM-2026-000417', operator: 'hall-017' };
const ISSUED = '{ kind title department token asOf issuedAt expiresAt holderBinding statusList statusIndex reference }';
const ISSUE = `mutation Issue($kind: ProofKind!, $id: ID!) { issueProof(kind: $kind, idNumber: $id) ${ISSUED} }`;
const ISSUE_BOUND = `mutation Issue($kind: ProofKind!, $id: ID!, $key: String!) { issueProof(kind: $kind, idNumber: $id, holderKey: $key) ${ISSUED} }`;
/** A citizen identity number anywhere in a text. */
const ID_NUMBER = /\d{17}[\dX]/;

interface Issued {
  kind: string;
  title: string;
  department: string;
  token: string;
  expiresAt: string;
  holderBinding: string;
  statusList: string;
  reference: string;
}

let hub: TestHub;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  hub = await startTestHub({ security: 'signed' });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

function consent(subject: string): string {
  const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
  return createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject, purpose: PROOF.purpose, expiresAt: Date.now() + 600_000 });
}

/** A proof the one-window hall has the hub issue about a person, with the person's consent. */
async function issue(kind: string, id: string, holderKey?: string): Promise<Issued> {
  const reply = holderKey
    ? await hub.clientFor('one-window-hall').query<any>(ISSUE_BOUND, { kind, id, key: holderKey }, { ...PROOF, consents: [consent(id)] })
    : await hub.clientFor('one-window-hall').query<any>(ISSUE, { kind, id }, { ...PROOF, consents: [consent(id)] });
  expect(reply.errors).toBeUndefined();
  return reply.data.issueProof as Issued;
}

/** The n-th person registered with the tax administration without arrears. */
function taxpayerWithoutArrears(n: number): string {
  return hub.sandboxes.data.taxpayers.filter((t) => t.kind === 'PERSON' && t.arrears.length === 0)[n]!.taxpayerId;
}

/** The n-th person who owns no unit of the registry. */
function personWithoutProperty(n: number): string {
  const owners = new Set(hub.sandboxes.data.properties.flatMap((p) => p.owners.map((o) => o.ownerId)));
  return hub.sandboxes.data.persons.filter((p) => !owners.has(p.idNumber))[n]!.idNumber;
}

/** Offline, as a verifier elsewhere: the hub's JWKS and its status list fetched over HTTP. */
async function verifyOffline(token: string): Promise<ProofVerification> {
  const jwks = await (await fetch(`${hub.url}/.well-known/jwks.json`)).json();
  return verifyProof(token, {
    keys: { jwks: jwks as never },
    requireStatus: true,
    statusList: async (uri) => {
      const res = await fetch(uri);
      expect(res.headers.get('content-type')).toBe('application/statuslist+jwt');
      return res.text();
    },
  });
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** An A4 page in print media; 3 device pixels per CSS pixel, so that a module of a large QR code gets several pixels. */
function printContext(): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 794, height: 1123 }, deviceScaleFactor: 3, locale: 'zh-CN' });
}

/** Opens `/p/<reference>` for print, checks the page is whole, and answers its text and its QR code's text. */
async function printed(context: BrowserContext, page: Page, issued: Issued, name: string): Promise<{ text: string; html: string; qrText: string }> {
  await page.emulateMedia({ media: 'print' });
  const res = await page.goto(`${hub.url}/p/${issued.reference}`);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['cache-control']).toBe('no-store');
  expect(await page.locator('nav, script, a').count()).toBe(0);
  writeFileSync(path.join(ARTIFACTS, `${name}.png`), await page.screenshot({ fullPage: true }));
  const pdf = await page.pdf({ preferCSSPageSize: true });
  expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  writeFileSync(path.join(ARTIFACTS, `${name}.pdf`), pdf);
  const qr = await readQrCode(context, page, page.locator('svg.qr'));
  writeFileSync(path.join(ARTIFACTS, `${name}-qr.png`), qr.png);
  expect(qr.text).not.toBeNull();
  return { text: await page.locator('body').innerText(), html: await page.content(), qrText: qr.text! };
}

/** Pastes `text` into /verify, submits, and answers the result page's verdict and facts. */
async function pasteIntoVerify(page: Page, text: string): Promise<{ verdict: string; body: string }> {
  // On screen: the print stylesheet hides the form.
  await page.emulateMedia({ media: 'screen' });
  await page.goto(`${hub.url}/verify`);
  await page.getByLabel('粘贴证明').fill(text);
  const [res] = await Promise.all([page.waitForResponse((r) => r.url() === `${hub.url}/verify` && r.request().method() === 'POST'), page.getByRole('button', { name: /核验/ }).click()]);
  expect(res.status()).toBe(200);
  await page.waitForLoadState();
  return { verdict: await page.locator('.verdict').innerText(), body: await page.locator('body').innerText() };
}

/** What every printed unbound proof says, in Chinese, and what it never shows. */
function expectPrintedFacts(text: string, html: string, issued: Issued, id: string, verified: ProofVerification & { valid: true }): void {
  expect(text).toContain(issued.title.split(' ')[0]!);
  // The subject, masked: the first and last four digits of the identity number, never all of it.
  expect(text).toContain(`${id.slice(0, 4)}${'*'.repeat(id.length - 8)}${id.slice(-4)}`);
  expect(text).not.toMatch(ID_NUMBER);
  expect(html).not.toContain(id);
  expect(text).toContain('证明内容');
  expect(text).toContain('签发部门');
  // The department's name Chinese first ("税务 Tax administration"), the purpose as the policy names it.
  const [en, zh] = /^(.*?) (\S+)$/.exec(hub.gateway.keyStore.owner(issued.department)!.name)!.slice(1);
  expect(text).toContain(`${zh} ${en}`);
  expect(text).toContain('事由');
  expect(text).toContain(`无证明（${verified.purpose}）`);
  expect(text).toContain('有效期至');
  expect(text).toContain(new Date(verified.expiresAt.getTime() + 8 * 3_600_000).toISOString().slice(0, 10));
  expect(text).toContain('未绑定持有人');
  expect(text).toContain('二维码内含完整证明');
}

describe('proofs the hub issued, printed and verified in Chromium', () => {
  it('prints a 无欠税证明 and a 无房证明 whose QR codes, read from screenshots, verify offline against the hub\'s keys and status list', async () => {
    const cases = [
      { kind: 'NO_TAX_ARREARS', id: taxpayerWithoutArrears(0), proven: ['是否欠税', '否'], name: 'no-tax-arrears' },
      { kind: 'NO_PROPERTY', id: personWithoutProperty(0), proven: ['登记的不动产数', '0'], name: 'no-property' },
    ];
    const context = await printContext();
    try {
      for (const c of cases) {
        const issued = await issue(c.kind, c.id);
        expect(issued.holderBinding).toBe('none');
        const { page, problems } = await newCheckedPage(context);
        const { text, html, qrText } = await printed(context, page, issued, c.name);
        // The QR code holds the whole proof, as issued.
        expect(qrText.startsWith(PROOF_QR_PREFIX)).toBe(true);
        const decoded = decodeProofFromQr(qrText);
        expect(decoded).toEqual({ token: issued.token });
        const verified = await verifyOffline(issued.token);
        expect(verified).toMatchObject({ valid: true, kind: c.kind, department: issued.department, purpose: PROOF.purpose, status: 'VALID', holderBound: false });
        if (!verified.valid) throw new Error('unreachable');
        expectPrintedFacts(text, html, issued, c.id, verified);
        for (const shown of c.proven) expect(text).toContain(shown);
        expect(problems).toEqual([]);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });

  it('says a holder-bound proof is bound, and /verify that its holder must present it with a key-binding JWT', async () => {
    const id = taxpayerWithoutArrears(1);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = await issue('NO_TAX_ARREARS', id, JSON.stringify(publicKey.export({ format: 'jwk' })));
    expect(issued.holderBinding).toBe('cnf');
    const context = await printContext();
    try {
      const { page, problems } = await newCheckedPage(context);
      const { text, html, qrText } = await printed(context, page, issued, 'holder-bound');
      expect(text).toContain('已绑定持有人');
      expect(text).not.toContain('未绑定持有人');
      expect(text).not.toMatch(ID_NUMBER);
      expect(html).not.toContain(id);
      expect(decodeProofFromQr(qrText)).toEqual({ token: issued.token });
      const { verdict, body } = await pasteIntoVerify(page, qrText);
      expect(verdict).toContain('此证明绑定了持有人');
      expect(verdict).toContain('密钥绑定 JWT');
      expect(body).toContain('已绑定持有人');
      expect(body).toContain('无欠税证明');
      writeFileSync(path.join(ARTIFACTS, 'verify-holder-bound.png'), await page.screenshot({ fullPage: true }));
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('/verify: the QR text of an issued proof is valid; once the tax administration records arrears it is revoked, and its page is gone', async () => {
    const id = taxpayerWithoutArrears(2);
    const issued = await issue('NO_TAX_ARREARS', id);
    const qrText = encodeProofForQr(issued.token, { referenceUrl: `${hub.url}/p/${issued.reference}` }).text;
    expect(qrText.startsWith(PROOF_QR_PREFIX)).toBe(true);
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const { page, problems } = await newCheckedPage(context, [404]);
      const valid = await pasteIntoVerify(page, qrText);
      expect(valid.verdict).toContain('证明有效');
      expect(valid.body).toContain('无欠税证明');
      expect(valid.body).toContain('是否欠税');
      expect(valid.body).toContain('否');
      expect(valid.body).toContain('有效（已查询状态列表');
      writeFileSync(path.join(ARTIFACTS, 'verify-valid.png'), await page.screenshot({ fullPage: true }));

      const res = await fetch(`${hub.operatorUrl}/__sandbox/tax/arrears`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taxpayerId: id, taxType: 'PROPERTY', amount: 417.25, since: '2026-11-20' }) });
      expect(res.status).toBe(201);
      // The change feed reaches the hub in its own time: wait until the proof no longer verifies offline.
      await eventually(async () => ((await verifyOffline(issued.token)).valid ? undefined : true));
      expect(await verifyOffline(issued.token)).toMatchObject({ valid: false, reason: 'REVOKED' });

      const revoked = await pasteIntoVerify(page, qrText);
      expect(revoked.verdict).toContain('证明无效');
      expect(revoked.verdict).toContain('已被签发部门撤销');
      expect(revoked.verdict).toContain('REVOKED');
      writeFileSync(path.join(ARTIFACTS, 'verify-revoked.png'), await page.screenshot({ fullPage: true }));
      // Pasted as the token itself: the same verdict.
      expect((await pasteIntoVerify(page, issued.token)).verdict).toContain('已被签发部门撤销');

      // Its printable page is gone (src/http/README.md: 404 for an unknown or expired reference; docs/proofs.md: a revoked proof's page is gone).
      const gone = await page.goto(`${hub.url}/p/${issued.reference}`);
      expect(gone?.status()).toBe(404);
      await expect(page.locator('h1').innerText()).resolves.toContain('未找到此证明');
      // Its reference URL pasted into /verify finds nothing either.
      const byUrl = await page.goto(`${hub.url}/verify`).then(async () => {
        await page.getByLabel('粘贴证明').fill(`${hub.url}/p/${issued.reference}`);
        await Promise.all([page.waitForResponse((r) => r.url() === `${hub.url}/verify` && r.request().method() === 'POST'), page.getByRole('button', { name: /核验/ }).click()]);
        return page.locator('.verdict').innerText();
      });
      expect(byUrl).toContain('证明编号不存在或已过期');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('prints the reference URL in the QR code of a 不动产登记信息 too big for one, and /verify follows it', async () => {
    // The person owning the most units; the registry transfers them more units (its sandbox) until their 不动产登记信息 outgrows a QR code.
    const { properties } = hub.sandboxes.data;
    const units = new Map<string, number>();
    for (const p of properties) for (const o of p.owners) if (o.kind === 'PERSON') units.set(o.ownerId, (units.get(o.ownerId) ?? 0) + 1);
    const [owner] = [...units.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!;
    const spare = properties.filter((p) => !p.owners.some((o) => o.ownerId === owner)).map((p) => p.unitNumber);
    let issued = await issue('PROPERTY_RECORD', owner);
    const fits = (token: string, ref: string): boolean => encodeProofForQr(token, { referenceUrl: `${hub.url}/p/${ref}` }).text.startsWith(PROOF_QR_PREFIX);
    for (let transferred = 0; fits(issued.token, issued.reference); transferred++) {
      if (transferred === 8) throw new Error(`a 不动产登记信息 of ${units.get(owner)! + transferred} units still fits a QR code of ${MAX_PROOF_QR_CHARS} characters`);
      const res = await fetch(`${hub.operatorUrl}/__sandbox/real-estate/transfers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ unitNumber: spare[transferred], buyerId: owner, price: 1_170_000 }) });
      expect(res.status).toBe(201);
      // The change feed revokes the owner's record first: a proof issued before the hub read the transfer would be revoked by it too.
      const before = issued.token;
      await eventually(async () => ((await verifyOffline(before)).valid ? undefined : true));
      issued = await issue('PROPERTY_RECORD', owner);
    }
    const context = await printContext();
    try {
      const { page, problems } = await newCheckedPage(context);
      const { text, html, qrText } = await printed(context, page, issued, 'property-record-reference');
      expect(qrText).toBe(`${hub.url}/p/${issued.reference}`);
      expect(decodeProofFromQr(qrText)).toEqual({ reference: `${hub.url}/p/${issued.reference}`, ref: issued.reference });
      expect(text).toContain('二维码为证明的查询地址');
      expect(text).toContain('不动产登记信息');
      expect(text).not.toMatch(ID_NUMBER);
      expect(html).not.toContain(owner);
      const { verdict, body } = await pasteIntoVerify(page, qrText);
      expect(verdict).toContain('证明有效');
      expect(body).toContain('不动产登记信息');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
