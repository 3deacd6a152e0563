/**
 * The proof pages in headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * printable page of a stored proof rendered for print (A4), screenshot, its QR code decoded from
 * the screenshot's pixels with jsQR and the proof in it verified with `verifyProof`; then /verify:
 * paste the QR text, submit, read the verdict. No CSP violation, no page error. Screenshots go to
 * the git-ignored test-artifacts/proof-pages/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jsQR from 'jsqr';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { decodeProofFromQr, verifyProof } from '../../src/proofs';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startTestHub, type TestHub } from '../support/hub';
import { testProofPages, type TestProofPages } from '../support/proof-pages';

// Browser globals, inside the callbacks that run in the page (the project's TypeScript has no DOM library).
declare const document: any;
declare const Image: any;
declare const btoa: any;

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/proof-pages');
const CHROMIUM = process.env.DATARUN_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WAIT = { timeout: HANG_DEADLINE_MS / 2 };

let hub: TestHub;
let pages: TestProofPages;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('Chromium is missing: run scripts/ensure-test-services.sh as root (it installs Debian\'s chromium and fonts-noto-cjk), or set DATARUN_CHROMIUM');
  mkdirSync(ARTIFACTS, { recursive: true });
  hub = await startTestHub({ proofPages: (gateway) => (pages = testProofPages(gateway)) });
  pages.publicUrl = hub.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN'], timeout: WAIT.timeout });
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

/** A page that collects CSP violations and page errors. */
async function newPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  // Every resource the page loads is there (the browser's own favicon request aside).
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) problems.push(`${response.status()} ${response.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => console.error(`Refused to: CSP ${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems };
}

/** The RGBA pixels of a PNG, decoded by the browser itself on a blank page (no PNG decoder in node_modules). */
async function pixelsOf(context: BrowserContext, png: Buffer): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  const blank = await context.newPage();
  try {
    const out = await blank.evaluate(async (b64: string) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const bytes: Uint8ClampedArray = ctx.getImageData(0, 0, img.width, img.height).data;
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { b64: btoa(binary) as string, width: img.width as number, height: img.height as number };
    }, png.toString('base64'));
    return { data: new Uint8ClampedArray(Buffer.from(out.b64, 'base64')), width: out.width, height: out.height };
  } finally {
    await blank.close();
  }
}

describe('the printed proof in Chromium', () => {
  it('prints on A4 with a QR code that, read from a screenshot, holds the proof, which verifies', async () => {
    const { token } = pages.issue();
    pages.stored.set('print-1', token);
    // 3 device pixels per CSS pixel: a 55 mm code of ~100 modules gets about 5 pixels a module.
    const context = await browser.newContext({ viewport: { width: 794, height: 1123 }, deviceScaleFactor: 3, locale: 'zh-CN' });
    try {
      const { page, problems } = await newPage(context);
      await page.emulateMedia({ media: 'print' });
      const res = await page.goto(`${hub.url}/p/print-1`);
      expect(res?.status()).toBe(200);
      await expect(page.locator('h1').innerText()).resolves.toContain('无欠税证明');
      expect(await page.locator('nav, script, a').count()).toBe(0);
      writeFileSync(path.join(ARTIFACTS, 'printed-proof.png'), await page.screenshot({ fullPage: true }));
      const box = (await page.locator('svg.qr').boundingBox())!;
      const shot = await page.screenshot({ clip: { x: box.x - 12, y: box.y - 12, width: box.width + 24, height: box.height + 24 } });
      writeFileSync(path.join(ARTIFACTS, 'printed-qr.png'), shot);
      const { data, width, height } = await pixelsOf(context, shot);
      const read = jsQR(data, width, height);
      expect(read).not.toBeNull();
      const decoded = decodeProofFromQr(read!.data);
      expect(decoded).toEqual({ token });
      const result = await verifyProof((decoded as { token: string }).token, { keys: { keyStore: hub.gateway.keyStore } });
      expect(result).toMatchObject({ valid: true, kind: 'NO_TAX_ARREARS', department: 'tax', disclosed: { hasArrears: false } });
      // A PDF on A4: the print stylesheet is what Chromium prints.
      const pdf = await page.pdf({ preferCSSPageSize: true });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      writeFileSync(path.join(ARTIFACTS, 'printed-proof.pdf'), pdf);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('/verify: paste the QR text, submit, read the verdict', async () => {
    const { token } = pages.issue();
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const { page, problems } = await newPage(context);
      await page.goto(`${hub.url}/verify`);
      const qrText = (await import('../../src/proofs')).encodeProofForQr(token).text;
      await page.getByLabel('粘贴证明').fill(qrText);
      await Promise.all([page.waitForURL(`${hub.url}/verify`), page.getByRole('button', { name: /核验/ }).click()]);
      await expect(page.locator('.verdict').innerText()).resolves.toContain('证明有效');
      await expect(page.locator('table.facts').innerText()).resolves.toContain('是否欠税');
      writeFileSync(path.join(ARTIFACTS, 'verify-result.png'), await page.screenshot({ fullPage: true }));
      // A revoked proof, pasted as the token itself.
      await page.goto(`${hub.url}/verify`);
      await page.getByLabel('粘贴证明').fill(pages.issue({ idx: 4 }).token);
      await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: /核验/ }).click()]);
      await expect(page.locator('.verdict').innerText()).resolves.toContain('证明已被签发部门撤销');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
