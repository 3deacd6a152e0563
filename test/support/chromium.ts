/**
 * Test support for the proof pages in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the browser, a page that collects what went wrong (CSP violations, page
 * errors, failed loads), and the QR code of a page read back from a screenshot's pixels with jsQR.
 */
import { existsSync } from 'node:fs';
import jsQR from 'jsqr';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { HANG_DEADLINE_MS } from './deadline';

// Browser globals, inside the callbacks that run in the page (the project's TypeScript has no DOM library).
declare const document: any;
declare const Image: any;
declare const btoa: any;

/** The browser's executable: DATARUN_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.DATARUN_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** Generous: only a hang should reach it. */
export const BROWSER_WAIT = { timeout: HANG_DEADLINE_MS / 2 };

/** Headless Chromium in Chinese; throws, saying how to install it, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('Chromium is missing: run scripts/ensure-test-services.sh as root (it installs Debian\'s chromium and fonts-noto-cjk), or set DATARUN_CHROMIUM');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN'], timeout: BROWSER_WAIT.timeout });
}

/**
 * A page that collects CSP violations, page errors, console errors and responses of 400 or more
 * into `problems`; a status in `expectedStatuses` (e.g. the 404 of a revoked proof's page) is
 * not a problem, nor is the browser's own favicon request.
 */
export async function newCheckedPage(context: BrowserContext, expectedStatuses: readonly number[] = []): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(BROWSER_WAIT.timeout);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !expectedStatuses.includes(response.status()) && !response.url().endsWith('/favicon.ico')) problems.push(`${response.status()} ${response.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => console.error(`Refused to: CSP ${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems };
}

/** The RGBA pixels of a PNG, decoded by the browser itself on a blank page (no PNG decoder in node_modules). */
export async function pixelsOf(context: BrowserContext, png: Buffer): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
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

/**
 * Screenshots `qr` (with a white margin around it) and reads the QR code in the pixels with jsQR:
 * its text, or null when jsQR finds none. The screenshot is returned too, to keep as an artifact.
 */
export async function readQrCode(context: BrowserContext, page: Page, qr: Locator): Promise<{ text: string | null; png: Buffer }> {
  const box = await qr.boundingBox();
  if (!box) throw new Error('the QR code is not on the page');
  const png = await page.screenshot({ fullPage: true, clip: { x: box.x - 12, y: box.y - 12, width: box.width + 24, height: box.height + 24 } });
  const { data, width, height } = await pixelsOf(context, png);
  return { text: jsQR(data, width, height)?.data ?? null, png };
}
