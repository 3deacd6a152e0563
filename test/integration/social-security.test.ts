import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLResolveInfo } from 'graphql';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedInsured } from '../../departments/seed/model';
import type { Sandbox } from '../../departments/sandbox-kit';
import { DEFAULT_SOCIAL_SECURITY_API_KEY, startSocialSecuritySandbox } from '../../departments/social-security';
import {
  SOCIAL_SECURITY_PRIMARY_LOADER,
  createSocialSecurityConnector,
  type SocialSecurityLoaders,
} from '../../connectors/social-security';
import { createHubContext, citizenIdCheckChar, HubError, type Connector, type HubContext } from '../../src/sdk';

const API_KEY = DEFAULT_SOCIAL_SECURITY_API_KEY;

let seed: SeedData;
let sandbox: Sandbox;
let connector: Connector<SocialSecurityLoaders>;
/** Servers and connectors a test opened beyond the shared ones, closed after it. */
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  seed = generateSeed({ seed: 1, size: 200 });
  sandbox = await startSocialSecuritySandbox({ data: seed });
  connector = createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: API_KEY });
});

afterAll(async () => {
  await connector.stop();
  await sandbox.close();
});

beforeEach(() => sandbox.control.reset());

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newContext(): HubContext {
  return createHubContext({ requestId: 'test', signal: new AbortController().signal });
}

function loaders(c: Connector<SocialSecurityLoaders> = connector): SocialSecurityLoaders {
  return newContext().loadersOf(c);
}

/** A connector made for one test, stopped after it. */
function extraConnector(options: { baseUrl?: string; apiKey?: string; timeoutMs?: number } = {}): Connector<SocialSecurityLoaders> {
  const c = createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: API_KEY, ...options });
  cleanups.push(() => c.stop());
  return c;
}

/** A valid citizen identity number that no department knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(900 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

/** The seed's record as the API promises it: contributions newest first. */
function expectedInsured(p: SeedInsured): SeedInsured {
  const contributions = [...p.contributions].sort((a, b) => (a.period === b.period ? 0 : a.period < b.period ? 1 : -1));
  return { ...p, contributions };
}

/** Calls one of the connector's resolvers as graphql-js would. */
function resolve(typeName: string, field: string, parent: unknown, args: Record<string, unknown> = {}, ctx = newContext()): unknown {
  const byType = connector.resolvers as unknown as Record<string, Record<string, unknown>>;
  const resolver = byType[typeName]?.[field] as ((...a: unknown[]) => unknown) | { resolve: (...a: unknown[]) => unknown } | undefined;
  if (!resolver) throw new Error(`no resolver ${typeName}.${field}`);
  const fn = typeof resolver === 'function' ? resolver : resolver.resolve;
  return fn(parent, args, ctx, {} as GraphQLResolveInfo);
}

/** Asserts that a promise rejects with a hub error of this code and a message matching `message`. */
async function expectHubError(promise: Promise<unknown>, code: string, message: RegExp): Promise<HubError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  const hubError = error as HubError;
  expect(hubError.code).toBe(code);
  expect(hubError.extensions.code).toBe(code);
  expect(hubError.message).toMatch(message);
  return hubError;
}

/** Asserts that a message carries no personal data of the seed and no API key. */
function expectNoPersonalData(message: string): void {
  expect(message).not.toMatch(/\d{17}[\dX]/);
  expect(message).not.toContain(API_KEY);
  for (const p of seed.insured.slice(0, 50)) expect(message).not.toContain(p.name);
}

async function api(path: string, init: { method?: string; body?: string; apiKey?: string | null } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.apiKey !== null) headers['x-api-key'] = init.apiKey ?? API_KEY;
  const res = await fetch(new URL(path, sandbox.url), { method: init.method ?? 'GET', body: init.body, headers });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text };
}

describe('social-security sandbox', () => {
  it('refuses a call without an API key with 401 and a JSON error', async () => {
    const res = await api('/api/v1/health', { apiKey: null });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ error: 'missing or invalid API key (header x-api-key)' });
  });

  it('refuses a wrong API key with 401', async () => {
    const res = await api('/api/v1/insured/batch', { method: 'POST', body: '{"ids":[]}', apiKey: 'wrong-key' });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ error: 'missing or invalid API key (header x-api-key)' });
  });

  it('answers the found persons and the ids it does not know in one batch', async () => {
    const known = seed.insured.slice(0, 3).map((p) => p.idNumber);
    const unknown = unknownIdNumber(1);
    const res = await api('/api/v1/insured/batch', { method: 'POST', body: JSON.stringify({ ids: [...known, unknown] }) });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as { items: SeedInsured[]; notFound: string[] };
    expect(body.items.map((i) => i.idNumber)).toEqual(known);
    expect(body.items[0]).toEqual(expectedInsured(seed.insured[0]!));
    expect(body.notFound).toEqual([unknown]);
    expect(sandbox.control.calls.get('insured.batch')).toBe(1);
  });

  it('answers employer accounts by credit code in one batch', async () => {
    const account = seed.employerAccounts[0]!;
    const res = await api('/api/v1/employers/batch', { method: 'POST', body: JSON.stringify({ ids: [account.creditCode] }) });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ items: [account], notFound: [] });
    expect(sandbox.control.calls.get('employers.batch')).toBe(1);
  });

  it('looks up one insured person and pages the contribution history newest first', async () => {
    const person = seed.insured.find((p) => p.contributions.length >= 4)!;
    const one = await api(`/api/v1/insured/${person.idNumber}`);
    expect(JSON.parse(one.text)).toEqual(expectedInsured(person));
    const page = await api(`/api/v1/insured/${person.idNumber}/contributions?offset=1&limit=2`);
    expect(JSON.parse(page.text)).toEqual({
      total: person.contributions.length,
      offset: 1,
      limit: 2,
      items: expectedInsured(person).contributions.slice(1, 3),
    });
    const missing = await api(`/api/v1/insured/${unknownIdNumber(2)}`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toEqual({ error: 'no insured person with this citizen identity number' });
  });

  it('rejects a body that is not valid JSON with 400', async () => {
    const res = await api('/api/v1/insured/batch', { method: 'POST', body: '{"ids": [' });
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual({ error: 'request body is not valid JSON' });
  });

  it('rejects more than 100 ids with 400', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => unknownIdNumber(i));
    const res = await api('/api/v1/insured/batch', { method: 'POST', body: JSON.stringify({ ids }) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ error: '"ids" holds 101 identifiers; at most 100 are allowed per call' });
  });

  it('rejects an invalid identifier by position, without echoing it', async () => {
    const bad = seed.insured[0]!.idNumber.slice(0, 17) + (seed.insured[0]!.idNumber[17] === '0' ? '1' : '0');
    const res = await api('/api/v1/insured/batch', { method: 'POST', body: JSON.stringify({ ids: [seed.insured[1]!.idNumber, bad] }) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({
      error: '"ids[1]" is not a valid citizen identity number: check character does not match (GB 11643 MOD 11-2)',
    });
    expect(res.text).not.toContain(bad);
  });

  it('rejects a body without an ids array and a wrong method clearly', async () => {
    const noIds = await api('/api/v1/employers/batch', { method: 'POST', body: '{"codes":[]}' });
    expect(noIds.status).toBe(400);
    expect(JSON.parse(noIds.text)).toEqual({ error: '"ids" must be an array of strings' });
    const wrongMethod = await api('/api/v1/insured/batch');
    expect(wrongMethod.status).toBe(405);
    expect(JSON.parse(wrongMethod.text)).toEqual({ error: 'method GET not allowed here; use POST' });
    const unknownRoute = await api('/api/v2/whatever');
    expect(unknownRoute.status).toBe(404);
  });

  it('keeps serving after a client drops mid-request', async () => {
    const { port, hostname } = new URL(sandbox.url);
    await new Promise<void>((resolveDone) => {
      const req = http.request({ host: hostname, port, method: 'POST', path: '/api/v1/insured/batch', headers: { 'x-api-key': API_KEY, 'content-length': '1000' } });
      req.on('error', () => resolveDone());
      req.write('{"ids": [', () => {
        req.destroy();
        resolveDone();
      });
    });
    expect((await api('/api/v1/health')).status).toBe(200);
  });

  it('counts one call per request under its operation name', async () => {
    await api('/api/v1/health');
    await api('/api/v1/insured/batch', { method: 'POST', body: '{"ids":[]}' });
    await api('/api/v1/employers/batch', { method: 'POST', body: '{"ids":[]}' });
    await api('/api/v1/employers/batch', { method: 'POST', body: '{"ids":[]}' });
    expect(Object.fromEntries(sandbox.control.calls)).toEqual({ health: 1, 'insured.batch': 1, 'employers.batch': 2 });
  });

  it('serves truncated JSON with status 200 in malformed mode', async () => {
    sandbox.control.setFaults({ mode: 'malformed' });
    const res = await api('/api/v1/health');
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(() => JSON.parse(res.text)).toThrow(SyntaxError);
  });

  it('applies faults set through the control routes', async () => {
    const set = await fetch(new URL('/__sandbox/faults', sandbox.url), { method: 'POST', body: '{"errorRate":1}' });
    expect(set.status).toBe(200);
    expect((await api('/api/v1/health')).status).toBe(503);
  });
});

describe('social-security connector', () => {
  it('exports its primary by-identifier loader name', () => {
    expect(SOCIAL_SECURITY_PRIMARY_LOADER).toBe('insuredById');
    expect(typeof loaders()[SOCIAL_SECURITY_PRIMARY_LOADER].load).toBe('function');
  });

  it('loads 50 persons with exactly one upstream call, in key order, unknown ones as null', async () => {
    const known = seed.insured.slice(0, 48).map((p) => p.idNumber);
    const keys = [unknownIdNumber(1), ...known, unknownIdNumber(2)];
    const records = await loaders().insuredById.loadMany(keys);
    expect(sandbox.control.totalCalls()).toBe(1);
    expect(sandbox.control.calls.get('insured.batch')).toBe(1);
    expect(records).toHaveLength(50);
    expect(records[0]).toBeNull();
    expect(records[49]).toBeNull();
    expect(records.slice(1, 49).map((r) => (r as { idNumber: string }).idNumber)).toEqual(known);
  });

  it('returns insured records equal to what the seed put in, contributions newest first', async () => {
    const sample = seed.insured.slice(0, 30);
    const records = await loaders().insuredById.loadMany(sample.map((p) => p.idNumber));
    expect(records).toEqual(sample.map(expectedInsured));
  });

  it('splits more than 100 ids into batches of 100', async () => {
    const ids = seed.insured.slice(0, 150).map((p) => p.idNumber);
    const records = await loaders().insuredById.loadMany(ids);
    expect(records.every((r) => r !== null && !(r instanceof Error))).toBe(true);
    expect(sandbox.control.calls.get('insured.batch')).toBe(2);
  });

  it('loads employer accounts with one call, unknown codes as null', async () => {
    const accounts = seed.employerAccounts.slice(0, 10);
    const without = seed.enterprises.find((e) => !seed.employerAccounts.some((a) => a.creditCode === e.creditCode));
    const keys = [...accounts.map((a) => a.creditCode), ...(without ? [without.creditCode] : [])];
    const records = await loaders().employerByCode.loadMany(keys);
    expect(records.slice(0, 10)).toEqual(accounts);
    if (without) expect(records[10]).toBeNull();
    expect(sandbox.control.calls.get('employers.batch')).toBe(1);
  });

  it('answers null for a malformed identifier without sending it upstream', async () => {
    const l = loaders();
    const [bad, good] = await Promise.all([l.insuredById.load('not-an-id-number'), l.insuredById.load(seed.insured[0]!.idNumber)]);
    expect(bad).toBeNull();
    expect(good?.idNumber).toBe(seed.insured[0]!.idNumber);
    expect(await loaders().employerByCode.load('123')).toBeNull();
    expect(sandbox.control.totalCalls()).toBe(1);
  });

  it('maps a dropped connection to CONNECTOR_UNAVAILABLE', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    const error = await expectHubError(
      loaders().insuredById.load(seed.insured[0]!.idNumber),
      'CONNECTOR_UNAVAILABLE',
      /^Department system "social-security" is unavailable: (connection reset|network error.*)\.$/,
    );
    expectNoPersonalData(error.message);
  });

  it('maps the error rate (HTTP 503) to CONNECTOR_UNAVAILABLE', async () => {
    sandbox.control.setFaults({ errorRate: 1 });
    const error = await expectHubError(
      loaders().employerByCode.load(seed.employerAccounts[0]!.creditCode),
      'CONNECTOR_UNAVAILABLE',
      /^Department system "social-security" is unavailable: HTTP status 503\.$/,
    );
    expect(error.extensions.connector).toBe('social-security');
  });

  it('maps a malformed reply to UPSTREAM_INVALID_RESPONSE', async () => {
    sandbox.control.setFaults({ mode: 'malformed' });
    const error = await expectHubError(
      loaders().insuredById.load(seed.insured[0]!.idNumber),
      'UPSTREAM_INVALID_RESPONSE',
      /^Department system "social-security" sent an invalid reply: the body is not valid JSON\.$/,
    );
    expectNoPersonalData(error.message);
    expect(error.originalError).toBeUndefined();
  });

  it('maps a slow department to CONNECTOR_TIMEOUT', async () => {
    sandbox.control.setFaults({ mode: 'slow', slowMs: 10_000 });
    const quick = extraConnector({ timeoutMs: 200 });
    await expectHubError(
      loaders(quick).insuredById.load(seed.insured[0]!.idNumber),
      'CONNECTOR_TIMEOUT',
      /^Department system "social-security" did not answer within 200 ms\.$/,
    );
  });

  it('maps a refused API key to CONNECTOR_UNAVAILABLE naming an authentication failure, without the key', async () => {
    const wrongKey = 'a-wrong-secret-key';
    const c = extraConnector({ apiKey: wrongKey });
    const error = await expectHubError(
      loaders(c).insuredById.load(seed.insured[0]!.idNumber),
      'CONNECTOR_UNAVAILABLE',
      /^Department system "social-security" is unavailable: authentication failed \(HTTP 401: the department refused the API key\)\.$/,
    );
    expect(error.message).not.toContain(wrongKey);
    const health = await c.health();
    expect(health.ok).toBe(false);
    expect(health.reason).toMatch(/authentication failed/);
    expect(health.reason).not.toContain(wrongKey);
  });

  describe('against a department that breaks the contract', () => {
    let reply: (ids: string[]) => unknown;
    let fake: http.Server;
    let fakeUrl: string;

    beforeAll(async () => {
      fake = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          const { ids } = JSON.parse(body) as { ids: string[] };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply(ids)));
        });
      });
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
      fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      fake.closeAllConnections();
      await new Promise<void>((r) => fake.close(() => r()));
    });

    it('reports a record of the wrong shape as UPSTREAM_INVALID_RESPONSE, naming the field only', async () => {
      const person = seed.insured[0]!;
      reply = () => ({ items: [{ ...person, scheme: 'PRIVATE' }], notFound: [] });
      const error = await expectHubError(
        loaders(extraConnector({ baseUrl: fakeUrl })).insuredById.load(person.idNumber),
        'UPSTREAM_INVALID_RESPONSE',
        /^Department system "social-security" sent an invalid reply: items\.0\.scheme does not match the API contract \(invalid_value\)\.$/,
      );
      expectNoPersonalData(error.message);
    });

    it('reports a reply that leaves an asked id unanswered as UPSTREAM_INVALID_RESPONSE', async () => {
      reply = () => ({ items: [], notFound: [] });
      await expectHubError(
        loaders(extraConnector({ baseUrl: fakeUrl })).insuredById.load(seed.insured[0]!.idNumber),
        'UPSTREAM_INVALID_RESPONSE',
        /^Department system "social-security" sent an invalid reply: the reply does not account for every identifier asked for\.$/,
      );
    });

    it('reports a record that was not asked for as UPSTREAM_INVALID_RESPONSE', async () => {
      reply = (ids) => ({ items: [seed.employerAccounts[1]], notFound: ids });
      await expectHubError(
        loaders(extraConnector({ baseUrl: fakeUrl })).employerByCode.load(seed.employerAccounts[0]!.creditCode),
        'UPSTREAM_INVALID_RESPONSE',
        /^Department system "social-security" sent an invalid reply: the reply holds a record that was not asked for\.$/,
      );
    });

    it('restores newest-first order when the department sends contributions unsorted', async () => {
      const person = seed.insured.find((p) => new Set(p.contributions.map((c) => c.period)).size >= 3)!;
      reply = () => ({ items: [{ ...person, contributions: [...person.contributions].sort((a, b) => a.period.localeCompare(b.period)) }], notFound: [] });
      const record = await loaders(extraConnector({ baseUrl: fakeUrl })).insuredById.load(person.idNumber);
      expect(record?.contributions.map((c) => c.period)).toEqual(expectedInsured(person).contributions.map((c) => c.period));
    });
  });

  it('reports healthy while the sandbox answers, and unhealthy once it is closed', async () => {
    const own = await startSocialSecuritySandbox({ data: seed });
    const c = extraConnector({ baseUrl: own.url });
    const up = await c.health();
    expect(up).toMatchObject({ connector: 'social-security', ok: true });
    await own.close();
    const down = await c.health();
    expect(down.ok).toBe(false);
    expect(down.reason).toMatch(/^Department system "social-security" is unavailable: connection refused\.$/);
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => createSocialSecurityConnector({ baseUrl: 'not a url', apiKey: API_KEY })).toThrow(
      new TypeError('social-security connector: option "baseUrl" must be an absolute http(s) URL, but got: "not a url"'),
    );
    expect(() => createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: '' })).toThrow(
      new TypeError('social-security connector: option "apiKey" must be a non-empty string'),
    );
    expect(() => createSocialSecurityConnector({ baseUrl: sandbox.url, apiKey: API_KEY, timeoutMs: 0 })).toThrow(
      new TypeError('social-security connector: option "timeoutMs" must be a positive integer (milliseconds), but got: 0'),
    );
  });

  describe('resolvers', () => {
    const employee = () => seed.insured.find((p) => p.employerCreditCode !== null && p.contributions.length >= 6)!;

    it('resolve Person.name and Person.socialInsurance through one batched call', async () => {
      const ctx = newContext();
      const people = seed.insured.slice(0, 20);
      const results = await Promise.all(
        people.flatMap((p) => [resolve('Person', 'name', { idNumber: p.idNumber }, {}, ctx), resolve('Person', 'socialInsurance', { idNumber: p.idNumber }, {}, ctx)]),
      );
      expect(results.filter((_, i) => i % 2 === 0)).toEqual(people.map((p) => p.name));
      expect((results[1] as SeedInsured).scheme).toBe(people[0]!.scheme);
      expect(sandbox.control.totalCalls()).toBe(1);
      expect(await resolve('Person', 'socialInsurance', { idNumber: unknownIdNumber(3) })).toBeNull();
      expect(await resolve('Person', 'name', { idNumber: unknownIdNumber(3) })).toBeNull();
    });

    it('resolve SocialInsurance.contributions newest first, limited to the last months', async () => {
      const person = employee();
      const insurance = await resolve('Person', 'socialInsurance', { idNumber: person.idNumber });
      const expected = expectedInsured(person).contributions;
      const newestPeriods = [...new Set(expected.map((c) => c.period))].slice(0, 2);
      const lastTwo = resolve('SocialInsurance', 'contributions', insurance, { last: 2 }) as SeedInsured['contributions'];
      expect(lastTwo).toEqual(expected.filter((c) => newestPeriods.includes(c.period)));
      expect(resolve('SocialInsurance', 'contributions', insurance, { last: 120 })).toEqual(expected);
    });

    it('rejects contributions(last:) outside 1..120 with BAD_USER_INPUT', async () => {
      const insurance = await resolve('Person', 'socialInsurance', { idNumber: employee().idNumber });
      for (const last of [0, 121]) {
        let thrown: unknown;
        try {
          resolve('SocialInsurance', 'contributions', insurance, { last });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(HubError);
        expect((thrown as HubError).code).toBe('BAD_USER_INPUT');
        expect((thrown as HubError).message).toBe(`Argument "last" must be an integer from 1 to 120, but got: ${last}.`);
      }
    });

    it('resolve SocialInsurance.employer and Contribution.employer to enterprise references or null', async () => {
      const person = employee();
      const insurance = await resolve('Person', 'socialInsurance', { idNumber: person.idNumber });
      expect(resolve('SocialInsurance', 'employer', insurance)).toEqual({ creditCode: person.employerCreditCode });
      const [first] = resolve('SocialInsurance', 'contributions', insurance, { last: 1 }) as unknown[];
      expect(resolve('Contribution', 'employer', first)).toEqual({ creditCode: person.employerCreditCode });
      const resident = seed.insured.find((p) => p.employerCreditCode === null)!;
      const residentInsurance = await resolve('Person', 'socialInsurance', { idNumber: resident.idNumber });
      expect(resolve('SocialInsurance', 'employer', residentInsurance)).toBeNull();
    });

    it('resolve Enterprise.employerAccount, null for an enterprise without one', async () => {
      const account = seed.employerAccounts[0]!;
      expect(await resolve('Enterprise', 'employerAccount', { creditCode: account.creditCode })).toEqual(account);
      const without = seed.enterprises.find((e) => !seed.employerAccounts.some((a) => a.creditCode === e.creditCode));
      if (without) expect(await resolve('Enterprise', 'employerAccount', { creditCode: without.creditCode })).toBeNull();
    });
  });
});
