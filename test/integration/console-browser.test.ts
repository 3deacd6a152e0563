/**
 * The auditor console in headless Chromium (Debian's `chromium`, driven by playwright-core; axe-core
 * injected): sign in through the URL `datarun console login` prints, search by subject with the
 * keyboard only, open a record and its proof, the citizen view for the hall, axe-core with 0
 * violations, no CSP violation, sign out (cookie gone, API refuses). Screenshots go to the
 * git-ignored test-artifacts/console/.
 *
 * Proofs: the browser's RFC 9162 check (merkle.js) is exercised here against a tree built by an
 * independent implementation in this test. The record view's proof step against the hub's
 * `auditProof` runs once the schema has it; until then the view must say proofs are unavailable.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { runConsoleLogin } from '../../src/cli/console';
import { propertyTransferExample } from '../../src/cli/examples';
import { createCheckpointSigner, createConsentSigner, type PrivateJwk } from '../../src/seal';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startTestHub, type TestHub } from '../support/hub';

// Browser globals, inside the callbacks that run in the page (the project's TypeScript has no DOM library).
declare const document: any;
declare const window: any;

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/console');
const CHROMIUM = process.env.DATARUN_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
/** Generous: only a hang should reach it. */
const WAIT = { timeout: HANG_DEADLINE_MS / 2 };

let hub: TestHub;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('Chromium is missing: run scripts/ensure-test-services.sh as root (it installs Debian\'s chromium and fonts-noto-cjk), or set DATARUN_CHROMIUM');
  mkdirSync(ARTIFACTS, { recursive: true });
  hub = await startTestHub({ security: 'signed' });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN'], timeout: WAIT.timeout });
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

const hasProofApi = (): boolean => hub.gateway.schema.getQueryType()?.getFields().auditProof !== undefined;

/** A page that collects CSP violations and page errors. */
async function newPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string; blockedURI: string }) => console.error(`Refused to: CSP ${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems };
}

/** axe-core, injected through the DevTools protocol (the page's CSP admits no inline script, rightly). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (window as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Where the keyboard focus is: the element's id, or its tag and text. */
const focused = (page: Page): Promise<string> => page.evaluate(() => document.activeElement?.id || `${document.activeElement?.tagName}:${document.activeElement?.textContent?.trim()}`);

/** Tabs until the element with this id has the focus (at most `max` presses), keyboard only. */
async function tabTo(page: Page, id: string, max = 30): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await focused(page)) === id) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`#${id} is not reachable with Tab (focus is on ${await focused(page)})`);
}

// An independent RFC 9162 implementation (§2.1.1, §2.1.3.1) to build trees and proofs for the browser to check.
const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const leafOf = (data: Buffer): Buffer => sha(Buffer.of(0), data);
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leafOf(leaves[0]!);
  const k = largestPowerOfTwoBelow(leaves.length);
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function auditPath(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length === 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
const b64u = (b: Buffer): string => b.toString('base64url');

describe('the auditor console in Chromium', () => {
  it('signs in by URL, searches by subject and opens a record by keyboard only, 0 axe violations, signs out', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    const reply = await hub.clientFor('real-estate-centre').query('query($b: ID!) { person(idNumber: $b) { name } }', { b: v.buyer }, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-BROWSER-1', operator: '窗口-王芳' });
    expect(reply.status).toBe(200);

    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const { page, problems } = await newPage(context);

    // Signed out: the sign-in page.
    await page.goto(`${hub.url}/console/`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '1-signin');

    // The one-time URL `datarun console login` prints.
    const { url } = runConsoleLogin({ consumer: 'auditor', key: hub.gateway.keyStore.privateKeyPath('auditor')!, hub: hub.url, operator: '审计员-赵强', case: 'SJ-BROWSER-1', out: { write: () => undefined } });
    await page.goto(url);
    await page.locator('#search').waitFor({ state: 'visible' });
    // The token left the address bar; the session is an HttpOnly, SameSite=Strict cookie the page cannot read.
    expect(page.url()).toBe(`${hub.url}/console/`);
    const cookies = await context.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'datarun_console', httpOnly: true, sameSite: 'Strict', path: '/console' })]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(await page.locator('#who-text').textContent()).toContain('审计员-赵强');
    expect(await page.inputValue('#audit-case')).toBe('SJ-BROWSER-1');
    await page.locator('#heads-status').filter({ hasText: /\S/ }).waitFor();

    // Keyboard only from here: the focus is on the search heading after sign-in.
    expect(await focused(page)).toBe('search-title');
    await tabTo(page, 'subject-kind');
    // PERSON is the first option: the default. Then the identity number, and Enter submits.
    await tabTo(page, 'subject-id');
    await page.keyboard.type(v.buyer);
    await page.keyboard.press('Enter');
    await page.locator('#results').waitFor({ state: 'visible' });
    expect(await focused(page)).toBe('results-title');
    const rows = page.locator('#results-body tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#results-body').textContent()).toContain('BDC-BROWSER-1');
    expect(await page.getAttribute('#export-link', 'href')).toContain(`subjectId=${v.buyer}`);
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '2-results');

    // Open the record of the transfer query: Tab to its button, Enter.
    const row = rows.filter({ hasText: 'BDC-BROWSER-1' }).first();
    const seq = Number(await row.locator('td').first().textContent());
    await page.keyboard.press('Tab');
    for (let i = 0; i < 30 && !(await focused(page)).includes(`BUTTON:查看`); i++) await page.keyboard.press('Tab');
    // Move to the row of that record.
    for (let i = 0; i < 60; i++) {
      const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
      if (label.includes(`Open record ${seq}`)) break;
      await page.keyboard.press('Tab');
    }
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toContain(`Open record ${seq}`);
    await page.keyboard.press('Enter');
    await page.locator('#record').waitFor({ state: 'visible' });
    expect(await focused(page)).toBe('record-title');
    const fields = await page.locator('#record-fields').textContent();
    expect(fields).toContain('BDC-BROWSER-1');
    expect(fields).toContain('real-estate-centre');
    expect(fields).toContain(`${v.buyer.slice(0, 6)}********${v.buyer.slice(14)}`);
    expect(fields).not.toContain(v.buyer);

    // The inclusion proof: verified in the browser once the hub serves proofs; until then, said to be unavailable.
    const proof = page.locator('#proof-status');
    if (hasProofApi()) {
      await proof.filter({ hasText: /Verified against head of size \d+ signed at|FAILED/ }).waitFor();
      expect(await proof.textContent()).toMatch(/Verified against head of size \d+ signed at \S+/);
      await page.locator('#heads-table').waitFor({ state: 'visible' });
      expect(await page.locator('#heads-body').textContent()).toContain('有效 valid');
    } else {
      await proof.filter({ hasText: /not available/ }).waitFor();
    }
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '3-record');

    // Back to the results by keyboard: the focus returns to the record's button.
    await tabTo(page, 'close-record');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toContain(`Open record ${seq}`);

    // The export link of the current filter, as the browser follows it (same origin, the cookie).
    const exported = await page.evaluate(async () => {
      const res = await fetch((document.getElementById('export-link') as { href: string }).href);
      return { status: res.status, body: (await res.json()) as { manifest: { count: number } } };
    });
    expect(exported.status).toBe(200);
    expect(exported.body.manifest.count).toBeGreaterThanOrEqual(1);

    // Sign out by keyboard.
    await tabTo(page, 'logout', 80);
    const session = (await context.cookies())[0]!.value;
    await page.keyboard.press('Enter');
    await page.locator('#signin').waitFor({ state: 'visible' });
    expect(await context.cookies()).toEqual([]);
    const refused = await fetch(`${hub.url}/console/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-datarun-console': '1', cookie: `datarun_console=${session}` },
      body: JSON.stringify({ query: '{ __typename }', purpose: 'AUDIT', caseNumber: 'SJ-BROWSER-1' }),
    });
    expect(refused.status).toBe(401);
    await shot(page, '4-signed-out');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows the hall\'s operator a citizen\'s accesses with the pasted consent token, keyboard only', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    await hub.clientFor('real-estate-centre').query('query($b: ID!) { person(idNumber: $b) { name } }', { b: v.buyer }, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-BROWSER-2', operator: '窗口-王芳' });
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const { page, problems } = await newPage(context);
    // The sign-in code pasted instead of the URL.
    let token = '';
    runConsoleLogin({ consumer: 'one-window-hall', key: hub.gateway.keyStore.privateKeyPath('one-window-hall')!, hub: hub.url, operator: '窗口-陈静', out: { write: (t) => (token ||= /#login=(\S+)/.exec(t)?.[1] ?? '') } });
    await page.goto(`${hub.url}/console/`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    await tabTo(page, 'signin-code');
    await page.keyboard.insertText(token);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#citizen').waitFor({ state: 'visible' });
    expect(await page.locator('#search').isHidden()).toBe(true);

    const jwk = JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath('citizen-identity')!, 'utf8')) as PrivateJwk;
    const consent = createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject: v.buyer, purpose: 'CITIZEN_ACCESS_VIEW', expiresAt: Date.now() + 600_000 });
    await tabTo(page, 'citizen-case');
    await page.keyboard.type('YC-BROWSER-1');
    await page.keyboard.press('Tab');
    await page.keyboard.type(v.buyer);
    await page.keyboard.press('Tab');
    await page.keyboard.insertText(consent);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#citizen-results').waitFor({ state: 'visible' });
    expect(await focused(page)).toBe('citizen-results-title');
    expect(await page.locator('#citizen-body').textContent()).toContain('BDC-BROWSER-2');
    // The consent token does not stay in the page.
    expect(await page.inputValue('#citizen-consent')).toBe('');
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '5-citizen');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('checks RFC 9162 inclusion proofs in the browser (WebCrypto), against an independent implementation', async () => {
    const context = await browser.newContext();
    const { page, problems } = await newPage(context);
    await page.goto(`${hub.url}/console/`);
    const cases: { leafIndex: number; treeSize: number; leafHash: string; path: string[]; root: string; expected: boolean }[] = [];
    for (const size of [1, 2, 3, 5, 7, 8, 13]) {
      const leaves = Array.from({ length: size }, (_, i) => Buffer.from(`{"seq":${i + 1}}`));
      const root = b64u(mth(leaves));
      for (let m = 0; m < size; m++) {
        const proofPath = auditPath(m, leaves).map(b64u);
        cases.push({ leafIndex: m, treeSize: size, leafHash: b64u(leafOf(leaves[m]!)), path: proofPath, root, expected: true });
        // Tampered: another leaf, a changed path hash, an index out of range or of another leaf.
        cases.push({ leafIndex: m, treeSize: size, leafHash: b64u(leafOf(Buffer.from('forged'))), path: proofPath, root, expected: false });
        if (proofPath.length > 0) cases.push({ leafIndex: m, treeSize: size, leafHash: b64u(leafOf(leaves[m]!)), path: [b64u(sha(Buffer.from('x'))), ...proofPath.slice(1)], root, expected: false });
        cases.push({ leafIndex: size, treeSize: size, leafHash: b64u(leafOf(leaves[m]!)), path: proofPath, root, expected: false });
        // (A wrong tree size is not always detectable from the path alone: the root, signed with its size, binds it.)
        if (size > 1) cases.push({ leafIndex: (m + 1) % size, treeSize: size, leafHash: b64u(leafOf(leaves[m]!)), path: proofPath, root, expected: false });
      }
    }
    // A string, so that the test's compiler leaves the dynamic import to the browser.
    const results = (await page.evaluate(`(async (all) => {
      const merkle = await import('/console/merkle.js');
      const verdicts = [];
      for (const c of all) verdicts.push(await merkle.verifyInclusion(c));
      return { verdicts, leaf: merkle.toBase64url(await merkle.leafHash('{"seq":1}')) };
    })(${JSON.stringify(cases)})`)) as { verdicts: boolean[]; leaf: string };
    expect(results.verdicts).toEqual(cases.map((c) => c.expected));
    expect(results.leaf).toBe(b64u(leafOf(Buffer.from('{"seq":1}'))));
    expect(problems).toEqual([]);
    await context.close();
  });

  it('verifies a record\'s proof against the signed head in the record view, and names a path or a record that does not match', async () => {
    // The hub's real auditProof answers; the browser's network layer only answers "not covered
    // yet" once (the console asks again), then tampers with the path, then with the record line.
    const reply = await hub.clientFor('real-estate-centre').query('{ __typename }', {}, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-BROWSER-3', operator: '窗口-王芳' });
    expect(reply.status).toBe(200);
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const { page, problems } = await newPage(context);
    let tamper: 'none' | 'path' | 'line' = 'none';
    let answeredNull = false;
    await page.route('**/console/graphql', async (route) => {
      const body = route.request().postDataJSON() as { operationName?: string };
      if (body.operationName !== 'ConsoleProof') return route.continue();
      // The first answer: not yet covered by a signed head (null); the console asks again.
      if (!answeredNull) {
        answeredNull = true;
        return route.fulfill({ json: { data: { auditProof: null } } });
      }
      const response = await route.fetch();
      const json = (await response.json()) as { data?: { auditProof?: { path: string[]; line: string } } };
      const proof = json.data?.auditProof;
      if (proof && tamper === 'path' && proof.path.length > 0) proof.path[0] = b64u(sha(Buffer.from('tampered')));
      if (proof && tamper === 'line') proof.line = proof.line.replace('"BDC-BROWSER-3"', '"BDC-BROWSER-9"');
      return route.fulfill({ response, json });
    });
    const { url } = runConsoleLogin({ consumer: 'auditor', key: hub.gateway.keyStore.privateKeyPath('auditor')!, hub: hub.url, operator: '审计员-赵强', case: 'SJ-BROWSER-3', out: { write: () => undefined } });
    await page.goto(url);
    await page.locator('#heads-table').waitFor({ state: 'visible' });
    expect(await page.locator('#heads-body').textContent()).toContain('有效 valid');

    await page.fill('#case-number', 'BDC-BROWSER-3');
    await page.click('#search-form button[type=submit]');
    await page.locator('#results').waitFor({ state: 'visible' });
    await page.locator('#results-body button').first().click();
    const proof = page.locator('#proof-status');
    await proof.filter({ hasText: /Verified against|FAILED/ }).waitFor();
    expect(await proof.textContent()).toMatch(/已验证:包含于大小为 \d+ 的树头,签名于 \S+。Verified against head of size \d+ signed at \S+\./);
    expect(answeredNull).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, '6-proof-verified');

    // A path that does not lead to the signed root is reported as such.
    tamper = 'path';
    await page.click('#close-record');
    await page.locator('#results-body button').first().click();
    await proof.filter({ hasText: 'inclusion proof invalid' }).waitFor();
    expect(await proof.textContent()).toMatch(/FAILED/);
    // A proof whose record line is not this record's is refused too.
    tamper = 'line';
    await page.click('#close-record');
    await page.locator('#results-body button').first().click();
    await proof.filter({ hasText: 'the proof is not about this record' }).waitFor();
    expect(await proof.textContent()).toMatch(/FAILED/);
    expect(problems).toEqual([]);
    await context.close();
  });
});
