/**
 * The auditor console over HTTP (without a browser): security headers, sign-in by a one-time
 * token signed with a registered key, the session cookie, CSRF refusals, console API calls
 * through the pipeline (policy and access log unchanged), the export link, sign-out.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { consoleLoginUrl, runConsoleLogin } from '../../src/cli/console';
import { propertyTransferExample } from '../../src/cli/examples';
import { createConsentSigner, createRequestSigner, signConsoleLogin, type PrivateJwk } from '../../src/seal';
import { startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});

const keyOf = (consumer: string): PrivateJwk => JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(consumer)!, 'utf8')) as PrivateJwk;
const loginToken = (consumer: string, operator = '审计员-赵强', caseNumber?: string): string =>
  signConsoleLogin({ consumerId: consumer, privateJwk: keyOf(consumer), operator, ...(caseNumber ? { caseNumber } : {}) });

const JSON_HEADERS = { 'content-type': 'application/json', 'x-datarun-console': '1' };

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${hub.url}${path}`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

async function signIn(consumer: string, caseNumber?: string): Promise<string> {
  const reply = await post('/console/session', { token: loginToken(consumer, consumer === 'auditor' ? '审计员-赵强' : '窗口-陈静', caseNumber) });
  expect(reply.status).toBe(200);
  const cookie = reply.headers.get('set-cookie')!;
  return cookie.split(';')[0]!;
}

const SEARCH = 'query S($f: AccessLogFilter) { accessLog(filter: $f, first: 50) { edges { node { seq consumer operator purpose caseNumber operationName outcome instance } } } }';

describe('the auditor console over HTTP', () => {
  it('serves its page and files under a strict CSP, in Chinese, with no inline script or style', async () => {
    const redirect = await fetch(`${hub.url}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    const res = await fetch(`${hub.url}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|<style/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    for (const file of ['app.js', 'audit-api.js', 'merkle.js', 'console.css']) {
      const asset = await fetch(`${hub.url}/console/${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
    expect((await fetch(`${hub.url}/console/..%2Fserver.ts`)).status).toBe(404);
    expect((await fetch(`${hub.url}/console/nope.js`)).status).toBe(404);
  });

  it('signs in once per token, with an HttpOnly SameSite=Strict cookie (Secure over https), and signs out', async () => {
    const token = loginToken('auditor', '审计员-赵强', 'SJ-2026-0100');
    const first = await post('/console/session', { token });
    expect(first.status).toBe(200);
    expect(first.json.session).toMatchObject({ consumer: 'auditor', roles: ['auditor'], operator: '审计员-赵强', caseNumber: 'SJ-2026-0100' });
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^datarun_console=[A-Za-z0-9_-]{43}; Path=\/console; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    // The token is single-use.
    const again = await post('/console/session', { token });
    expect(again.status).toBe(401);
    expect(again.json.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'REPLAYED' });
    // A signed request token is no sign-in token; garbage neither.
    const request = createRequestSigner({ consumerId: 'auditor', privateJwk: keyOf('auditor') }).sign('{}', { purpose: 'AUDIT', caseNumber: 'SJ-1', operator: 'x' });
    expect((await post('/console/session', { token: request })).json.errors[0].extensions.reason).toBe('MALFORMED');
    expect((await post('/console/session', { token: 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA' })).status).toBe(401);

    // Behind an https front (the browser's Origin says so): the __Host- cookie, Secure.
    const host = new URL(hub.url).host;
    const secure = await post('/console/session', { token: loginToken('auditor') }, { origin: `https://${host}` });
    expect(secure.headers.get('set-cookie')).toMatch(/^__Host-datarun_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);

    const session = cookie.split(';')[0]!;
    expect((await post('/console/session/current', {}, { cookie: session })).json.session.consumer).toBe('auditor');
    const out = await post('/console/logout', {}, { cookie: session });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await post('/console/session/current', {}, { cookie: session })).status).toBe(401);
    const refused = await post('/console/graphql', { query: SEARCH, purpose: 'AUDIT', caseNumber: 'SJ-2026-0100' }, { cookie: session });
    expect(refused.status).toBe(401);
    expect(refused.json.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'NO_SESSION' });
  });

  it('accepts only same-origin JSON POSTs with its header', async () => {
    const session = await signIn('auditor');
    const body = JSON.stringify({ query: SEARCH, purpose: 'AUDIT', caseNumber: 'SJ-1' });
    const attempt = (headers: Record<string, string>, method = 'POST') => fetch(`${hub.url}/console/graphql`, { method, headers: { cookie: session, ...headers }, ...(method === 'POST' ? { body } : {}) });
    expect((await attempt({ 'content-type': 'text/plain', 'x-datarun-console': '1' })).status).toBe(400);
    expect((await attempt({ 'content-type': 'application/json' })).status).toBe(400);
    expect((await attempt({ ...JSON_HEADERS, origin: 'https://evil.example' })).status).toBe(400);
    expect((await attempt({ ...JSON_HEADERS, 'sec-fetch-site': 'cross-site' })).status).toBe(400);
    expect((await attempt({}, 'GET')).status).toBe(405);
    expect((await attempt({ ...JSON_HEADERS, origin: hub.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await post('/console/session', { token: loginToken('auditor') }, { 'x-datarun-console': '' })).status).toBe(400);
  });

  it('refuses a console body it would read wrongly: another charset, a compressed body, bytes that are not UTF-8', async () => {
    const session = await signIn('auditor');
    const send = async (path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; json: any }> => {
      const res = await fetch(`${hub.url}${path}`, { method: 'POST', headers: { ...JSON_HEADERS, cookie: session, ...headers }, body });
      return { status: res.status, json: await res.json() };
    };
    const search = Buffer.from(JSON.stringify({ query: SEARCH, purpose: 'AUDIT', caseNumber: 'SJ-ENC-1' }), 'utf8');
    // Bytes that are not UTF-8 inside a JSON string: decoded, they would silently become U+FFFD.
    const latin1 = Buffer.concat([Buffer.from('{"query":"', 'utf8'), Buffer.from([0xe9]), Buffer.from('","purpose":"AUDIT","caseNumber":"SJ-ENC-2"}', 'utf8')]);
    for (const path of ['/console/graphql', '/console/session/current']) {
      const charset = await send(path, search, { 'content-type': 'application/json; charset=latin1' });
      expect(charset.status).toBe(415);
      expect(charset.json.errors[0]).toMatchObject({ message: 'Charset "latin1" is not accepted: a JSON body is UTF-8.', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
      const gzip = await send(path, search, { 'content-encoding': 'gzip' });
      expect(gzip.status).toBe(415);
      expect(gzip.json.errors[0].message).toBe('Content encoding "gzip" is not accepted: send the body uncompressed.');
      const bytes = await send(path, latin1, {});
      expect(bytes.status).toBe(400);
      expect(bytes.json.errors[0]).toMatchObject({ message: 'The request body is not valid UTF-8.', extensions: { code: 'BAD_REQUEST' } });
    }
    // UTF-8 said explicitly is UTF-8, and "identity" is no encoding.
    expect((await send('/console/graphql', search, { 'content-type': 'application/json; charset=UTF-8', 'content-encoding': 'identity' })).status).toBe(200);
  });

  it('runs console calls through the pipeline as the session\'s consumer: recorded, policy unchanged', async () => {
    const session = await signIn('auditor');
    const v = propertyTransferExample(hub.sandboxes.data);
    const search = await post('/console/graphql', { query: SEARCH, variables: { f: { subject: { kind: 'PERSON', id: v.buyer } } }, purpose: 'AUDIT', caseNumber: 'SJ-CONSOLE-1' }, { cookie: session });
    expect(search.status).toBe(200);
    expect(search.json.extensions.receipt).toEqual(expect.any(String));
    // The console search is itself an access record: consumer, operator from the sign-in, case stated.
    const mine = await post('/console/graphql', { query: SEARCH, variables: { f: { caseNumber: 'SJ-CONSOLE-1' } }, purpose: 'AUDIT', caseNumber: 'SJ-CONSOLE-2' }, { cookie: session });
    expect(mine.json.data.accessLog.edges.map((e: any) => e.node)).toEqual([
      expect.objectContaining({ consumer: 'auditor', operator: '审计员-赵强', purpose: 'AUDIT', caseNumber: 'SJ-CONSOLE-1', outcome: 'GRANTED', instance: 'test-hub' }),
    ]);
    // An auditor reads no department data, through the console neither.
    const data = await post('/console/graphql', { query: 'query($b: ID!) { person(idNumber: $b) { name } }', variables: { b: v.buyer }, purpose: 'AUDIT', caseNumber: 'SJ-CONSOLE-3' }, { cookie: session });
    expect(data.status).toBe(403);
    expect(data.json.errors[0].extensions.code).toBe('POLICY_DENIED');
    // Only the console's purposes.
    const other = await post('/console/graphql', { query: SEARCH, purpose: 'PROPERTY_TRANSFER', caseNumber: 'SJ-CONSOLE-4' }, { cookie: session });
    expect(other.status).toBe(403);
    // A case is stated.
    expect((await post('/console/graphql', { query: SEARCH, purpose: 'AUDIT' }, { cookie: session })).status).toBe(400);
  });

  it('shows the hall\'s operator a citizen\'s accesses with the citizen\'s consent, and nothing without it', async () => {
    const v = propertyTransferExample(hub.sandboxes.data);
    await hub.clientFor('real-estate-centre').query('query($b: ID!) { person(idNumber: $b) { name } }', { b: v.buyer }, { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-CONSOLE-1', operator: '窗口-王芳' });
    const session = await signIn('one-window-hall');
    const query = 'query($id: ID!) { dataAccesses(idNumber: $id) { edges { node { consumer purpose caseNumber departments } } } }';
    const without = await post('/console/graphql', { query, variables: { id: v.buyer }, purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-CONSOLE-1' }, { cookie: session });
    expect(without.status).toBe(403);
    const jwk = keyOf('citizen-identity');
    const consent = createConsentSigner({ issuer: 'citizen-identity', privateJwk: jwk }).sign({ subject: v.buyer, purpose: 'CITIZEN_ACCESS_VIEW', expiresAt: Date.now() + 600_000 });
    const view = await post('/console/graphql', { query, variables: { id: v.buyer }, purpose: 'CITIZEN_ACCESS_VIEW', caseNumber: 'YC-CONSOLE-1', consent }, { cookie: session });
    expect(view.status).toBe(200);
    expect(view.json.data.dataAccesses.edges.map((e: any) => e.node.caseNumber)).toContain('BDC-CONSOLE-1');
    // The hall cannot search the log.
    const search = await post('/console/graphql', { query: SEARCH, purpose: 'AUDIT', caseNumber: 'YC-CONSOLE-2' }, { cookie: session });
    expect(search.status).toBe(403);
  });

  it('exports the current filter as the hub\'s signed export, authorised and recorded by the pipeline', async () => {
    const session = await signIn('auditor');
    const url = `${hub.url}/console/export?format=jsonl&auditCase=SJ-EXPORT-1&caseNumber=SJ-CONSOLE-1`;
    const res = await fetch(url, { headers: { cookie: session } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="datarun-access-log-.*\.jsonl\.export\.json"$/);
    const exported = (await res.json()) as { manifest: any; jws: string; content: string };
    expect(exported.manifest).toMatchObject({ format: 'jsonl', count: 1, filter: { caseNumber: 'SJ-CONSOLE-1' } });
    expect(createHash('sha256').update(exported.content, 'utf8').digest('hex')).toBe(exported.manifest.sha256);
    expect(JSON.parse(exported.content.trim())).toMatchObject({ consumer: 'auditor', caseNumber: 'SJ-CONSOLE-1' });
    expect(exported.jws.split('.')).toHaveLength(3);
    // The export's authorisation is an access record of its own.
    const search = await post('/console/graphql', { query: SEARCH, variables: { f: { caseNumber: 'SJ-EXPORT-1' } }, purpose: 'AUDIT', caseNumber: 'SJ-EXPORT-2' }, { cookie: session });
    expect(search.json.data.accessLog.edges[0].node).toMatchObject({ operationName: 'ConsoleExport', consumer: 'auditor', outcome: 'GRANTED' });
    // Not signed in, from another site, or as the hall: refused.
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { cookie: session, 'sec-fetch-site': 'cross-site' } })).status).toBe(400);
    const hall = await signIn('one-window-hall');
    expect((await fetch(url, { headers: { cookie: hall } })).status).toBe(403);
  });

  it('datarun console login prints a one-time sign-in URL that works once', async () => {
    let printed = '';
    const { url, token } = runConsoleLogin({ consumer: 'auditor', key: hub.gateway.keyStore.privateKeyPath('auditor')!, hub: `${hub.url}/`, operator: '审计员-赵强', out: { write: (t) => (printed += t) } });
    expect(url).toBe(consoleLoginUrl(hub.url, token));
    expect(url.startsWith(`${hub.url}/console/#login=`)).toBe(true);
    expect(printed).toContain(url);
    expect((await post('/console/session', { token })).status).toBe(200);
    expect((await post('/console/session', { token })).status).toBe(401);
  });
});
