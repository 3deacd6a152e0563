/**
 * The hub's front page in headless Chromium (Debian's `chromium`, driven by playwright-core, as in
 * console-browser.test.ts), docs/explorer.md:
 *
 * - open mode: `GET /` is GraphiQL, built by scripts/build-explorer.js (run here first), served
 *   by the hub; it opens the worked examples in its tabs, runs the property transfer against the
 *   hub's /graphql and shows the data; no request leaves the hub's origin; no CSP violation.
 * - signed mode: `GET /` is the landing page: every department listed ok, one sandbox put down
 *   through its fault control and seen down, its links answer (the JWKS 200), axe-core finds no
 *   violation (of any impact), no CSP violation; `/departments` probes at most once per
 *   cache period whatever the number of callers.
 *
 * Screenshots go to the git-ignored test-artifacts/explorer/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { livingAllowanceExample, propertyTransferExample } from '../../src/cli/examples';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startTestHub, type TestHub } from '../support/hub';

// Browser globals, inside the callbacks that run in the page (the project's TypeScript has no DOM library).
declare const document: any;
declare const window: any;

const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.resolve(ROOT, 'test-artifacts/explorer');
const CHROMIUM = process.env.DATARUN_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
/** Generous: only a hang should reach it. */
const WAIT = { timeout: HANG_DEADLINE_MS / 2 };

let open: TestHub;
let signed: TestHub;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('Chromium is missing: run scripts/ensure-test-services.sh as root (it installs Debian\'s chromium and fonts-noto-cjk), or set DATARUN_CHROMIUM');
  mkdirSync(ARTIFACTS, { recursive: true });
  // The bundle the hub serves in the open mode: built from the sources, as `npm run build` does.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-explorer.js'), '--quiet'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: WAIT.timeout });
  [open, signed] = await Promise.all([startTestHub({ security: 'open' }), startTestHub({ security: 'signed' })]);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN'], timeout: WAIT.timeout });
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([open?.close(), signed?.close()]);
});

/** A page that collects CSP violations, page errors and every URL it requested. */
async function newPage(context: BrowserContext): Promise<{ page: Page; problems: string[]; requested: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const problems: string[] = [];
  const requested: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => requested.push(request.url()));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => console.error(`Refused to: CSP ${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems, requested };
}

/** axe-core's violations of any impact, injected through the DevTools protocol (the page's CSP admits no inline script). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (window as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  });
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}

/** Calls `read` every half second until `done` holds for its value; only the hang deadline ends it otherwise. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Requests that went anywhere but the hub: another origin, or a scheme other than the hub's, data: and blob: (in-page, never sent). */
function offOrigin(requested: string[], origin: string): string[] {
  return requested.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
}

describe('the explorer (open mode) in Chromium', () => {
  it('opens GraphiQL with the worked examples, runs the property transfer against /graphql, and requests nothing outside the hub', async () => {
    const v = propertyTransferExample(open.sandboxes.data);
    const family = livingAllowanceExample(open.sandboxes.data).family;
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
    const { page, problems, requested } = await newPage(context);

    const response = await page.goto(`${open.url}/`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("style-src 'self'; style-src-elem 'self' 'unsafe-inline'; style-src-attr 'none';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self';");
    expect(response?.headers()['x-frame-options']).toBe('DENY');

    await page.locator('.graphiql-container').waitFor({ state: 'visible' });
    // The worked examples in the tabs: the property transfer first (active), the living-allowance checks beside it.
    const tabs = page.locator('.graphiql-tab');
    expect(await until(() => tabs.count(), (n) => n === 3)).toBe(3);
    expect(await page.locator('.graphiql-tabs').textContent()).toContain('LivingAllowance');
    await page.locator('.graphiql-query-editor .CodeMirror').filter({ hasText: 'PropertyTransfer' }).waitFor();
    await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').filter({ hasText: v.unitNumber }).waitFor();
    // The schema came from the hub's /graphql (introspection in the open mode): the docs explorer is available.
    expect(await until(() => page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').count(), (n) => n === 1)).toBe(1);

    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.graphiql-response .CodeMirror');
    await result.filter({ hasText: v.seller }).waitFor();
    const text = (await result.textContent()) ?? '';
    expect(text).toContain(v.unitNumber);
    expect(text).toContain(v.buyer);
    expect(text).toContain('"certificateNumber"');
    expect(text).not.toContain('"errors"');
    await shot(page, '1-explorer-property-transfer');

    // The second tab: the living-allowance check for the seed's family.
    await tabs.nth(1).click();
    await page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').filter({ hasText: family[0]! }).waitFor();
    await page.locator('.graphiql-execute-button').click();
    await result.filter({ hasText: '"people"' }).waitFor();
    expect(await result.textContent()).toContain(family[0]!);
    await shot(page, '2-explorer-living-allowance');

    // The docs explorer (the schema as introspected from /graphql) and the settings dialog open under the page's CSP.
    await page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer').filter({ hasText: 'Query' }).waitFor();
    await page.locator('.graphiql-sidebar button[aria-label="Open settings dialog"]').click();
    await page.locator('.graphiql-dialog').waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await page.locator('.graphiql-dialog').waitFor({ state: 'detached' });

    // /explorer is the same page.
    const again = await page.goto(`${open.url}/explorer`);
    expect(again?.status()).toBe(200);
    await page.locator('.graphiql-container').waitFor({ state: 'visible' });

    expect(requested.length).toBeGreaterThan(0);
    expect(requested.some((u) => u === `${open.url}/graphql`)).toBe(true);
    expect(offOrigin(requested, open.url)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('serves its assets from the hub only, and no landing page or explorer assets outside their mode', async () => {
    const html = await fetch(`${open.url}/`).then((r) => r.text());
    // Every src and href of the page is a path on the hub.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^\/[^/]/);
    const bundle = await fetch(`${open.url}/explorer/explorer.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('text/javascript');
    // Not the build's own marker, not a path outside the folder.
    expect((await fetch(`${open.url}/explorer/build.json`)).status).toBe(404);
    expect((await fetch(`${open.url}/explorer/..%2Fserver.js`)).status).toBe(404);
    // The signed hub has no explorer.
    expect((await fetch(`${signed.url}/explorer`)).status).toBe(404);
    expect((await fetch(`${signed.url}/explorer/explorer.js`)).status).toBe(404);
    expect((await fetch(`${signed.url}/explorer/examples.json`)).status).toBe(404);
    expect((await fetch(`${signed.url}/`, { method: 'POST' })).status).toBe(405);
  });
});

describe('the landing page (signed mode) in Chromium', () => {
  it('lists the departments\' states, shows one put down as down, its links answer, no axe violation', async () => {
    const ids = signed.gateway.connectors.map((c) => c.id);
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const { page, problems, requested } = await newPage(context);
    const response = await page.goto(`${signed.url}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toBe("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");

    const rows = page.locator('#departments-body tr');
    expect(await until(() => rows.count(), (n) => n === ids.length)).toBe(ids.length);
    for (const id of ids) {
      const row = page.locator(`#departments-body tr[data-department="${id}"]`);
      expect(await row.locator('td').nth(2).textContent()).toBe('ok');
      expect(await row.locator('td').nth(1).textContent()).toBe(signed.gateway.connectors.find((c) => c.id === id)!.title);
      expect(await row.locator('td').nth(3).textContent()).toMatch(/^\d+ ms$/);
    }
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '3-landing');

    // Every link of the page answers 200, the JWKS with keys.
    const hrefs: string[] = await page.evaluate(() => [...document.querySelectorAll('a[href]')].map((a: { href: string }) => a.href));
    expect(hrefs).toContain(`${signed.url}/.well-known/jwks.json`);
    for (const href of new Set(hrefs.map((h) => h.split('#')[0]!))) {
      const res = await fetch(href);
      expect([href, res.status]).toEqual([href, 200]);
    }
    const jwks = (await (await fetch(`${signed.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);

    // One sandbox department down through its fault control: the page says so once the next probe ran.
    const target = ids.includes('housing-fund') ? 'housing-fund' : ids[0]!;
    const fault = await fetch(`${signed.operatorUrl}/__sandbox/faults/${target}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'down' }) });
    expect(fault.status).toBe(200);
    try {
      const state = page.locator(`#departments-body tr[data-department="${target}"] td`).nth(2);
      const seen = await until(async () => {
        await page.locator('#refresh').click();
        await page.locator('#refresh:not([disabled])').waitFor();
        return state.textContent();
      }, (text) => text === 'down');
      expect(seen).toBe('down');
      expect(await page.locator('#departments-status').textContent()).toContain('1 down');
      for (const id of ids.filter((i) => i !== target)) expect(await page.locator(`#departments-body tr[data-department="${id}"] td`).nth(2).textContent()).toBe('ok');
      expect(await axeViolations(page)).toEqual([]);
      await shot(page, '4-landing-one-down');
    } finally {
      signed.resetSandboxes();
    }
    expect(offOrigin(requested, signed.url)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('GET /departments probes each department at most once per cache period, and names no reason', async () => {
    // Past the page test's cache period first.
    await new Promise((r) => setTimeout(r, 2100));
    const spies = signed.gateway.connectors.map((c) => jest.spyOn(c, 'health'));
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${signed.url}/departments`).then((r) => r.json() as Promise<{ departments: Record<string, unknown>[] }>)));
      for (const spy of spies) expect(spy).toHaveBeenCalledTimes(1);
      for (const answer of answers) {
        expect(answer.departments.map((d) => Object.keys(d).sort())).toEqual(signed.gateway.connectors.map(() => ['id', 'latencyMs', 'ok', 'title']));
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
