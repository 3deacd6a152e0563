/**
 * The proof pages in headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * printable page of a stored proof rendered for print (A4), screenshot, its QR code decoded from
 * the screenshot's pixels with jsQR and the proof in it verified with `verifyProof`; then /verify:
 * paste the QR text, submit, read the verdict. No CSP violation, no page error. Screenshots go to
 * the git-ignored test-artifacts/proof-pages/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { decodeProofFromQr, verifyProof } from '../../src/proofs';
import { launchChromium, newCheckedPage as newPage, readQrCode } from '../support/chromium';
import { startTestHub, type TestHub } from '../support/hub';
import { testProofPages, type TestProofPages } from '../support/proof-pages';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/proof-pages');

let hub: TestHub;
let pages: TestProofPages;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  hub = await startTestHub({ proofPages: (gateway) => (pages = testProofPages(gateway)) });
  pages.publicUrl = hub.url;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

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
      const read = await readQrCode(context, page, page.locator('svg.qr'));
      writeFileSync(path.join(ARTIFACTS, 'printed-qr.png'), read.png);
      expect(read.text).not.toBeNull();
      const decoded = decodeProofFromQr(read.text!);
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
