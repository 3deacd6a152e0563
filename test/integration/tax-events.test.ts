/**
 * The tax service's change log: arrears raised and settled through the sandbox change routes come
 * back from the GetChanges SOAP operation, read by the connector's change feed as events of the
 * taxpayer (a person or an enterprise), keyset-paged with stable ids; afterwards the connector's
 * loader gives the taxpayer's new arrears.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData } from '../../departments/seed/model';
import { startTaxSandbox, type TaxSandbox } from '../../departments/tax';
import { TAX_EVENTS, connectorModule, createTaxConnector, type TaxLoaders } from '../../connectors/tax';
import { HubError, citizenIdCheckChar, createHubContext, type ChangeFeed, type Connector, type DepartmentEvent } from '../../src/sdk';

const data: SeedData = generateSeed({ seed: 5, size: 120 });
const person = data.taxpayers.find((t) => t.kind === 'PERSON' && t.arrears.length === 0)!;
const enterprise = data.taxpayers.find((t) => t.kind === 'ENTERPRISE' && t.arrears.length === 0)!;
const RFC3339_CST = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/;

let sandbox: TaxSandbox;
let connector: Connector<TaxLoaders>;

beforeAll(async () => {
  sandbox = await startTaxSandbox({ data });
  connector = createTaxConnector({ url: sandbox.url, timeoutMs: 5000 });
});

afterAll(async () => {
  await connector?.stop();
  await sandbox?.close();
});

beforeEach(() => sandbox.control.reset());

const origin = () => new URL(sandbox.url).origin;

function feedOf(c: Connector<TaxLoaders>): ChangeFeed {
  if (!c.changeFeed) throw new Error('the connector has no change feed');
  return c.changeFeed;
}

async function post(route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${origin()}/__sandbox/${route}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function change(route: string, body: unknown): Promise<{ id: number; type: string; taxpayerId: string; occurredAt: string; amount: string; since: string; taxType: string }> {
  const res = await post(route, body);
  expect(res).toMatchObject({ status: 201 });
  return res.body['change'] as never;
}

async function endCursor(c: Connector<TaxLoaders> = connector): Promise<string> {
  const feed = feedOf(c);
  return (await feed.read(feed.startCursor, new AbortController().signal)).nextCursor;
}

async function readAll(c: Connector<TaxLoaders>, cursor: string): Promise<{ events: DepartmentEvent[]; changed: { loader: string; key: string }[]; pages: number; cursor: string }> {
  const events: DepartmentEvent[] = [];
  const changed: { loader: string; key: string }[] = [];
  let pages = 0;
  for (;;) {
    const page = await feedOf(c).read(cursor, new AbortController().signal);
    pages++;
    events.push(...(page.events ?? []));
    changed.push(...page.changed);
    cursor = page.nextCursor;
    if (!page.hasMore) return { events, changed, pages, cursor };
    if (pages > 1000) throw new Error('the feed does not end');
  }
}

function load(taxpayerId: string) {
  return createHubContext({ requestId: 'test', signal: new AbortController().signal }).loadersOf(connector).taxpayerById.load(taxpayerId);
}

describe('the tax module', () => {
  it('declares its two event types, about a person or an enterprise', () => {
    expect(connectorModule.events).toBe(TAX_EVENTS);
    expect(TAX_EVENTS.map((e) => [e.type, e.subject, e.subjects])).toEqual([
      ['ARREARS_ARISEN', 'PERSON', ['PERSON', 'ENTERPRISE']],
      ['ARREARS_SETTLED', 'PERSON', ['PERSON', 'ENTERPRISE']],
    ]);
  });

  it('counts a GetChanges call as a change-feed read', async () => {
    await endCursor();
    expect(sandbox.control.calls).toEqual(new Map([['changes.list', 1]]));
  });

  it('offers GetChanges in its WSDL', async () => {
    const wsdl = await (await fetch(`${sandbox.url}?wsdl`)).text();
    expect(wsdl).toContain('<wsdl:operation name="GetChanges">');
    expect(wsdl).toContain('soapAction="urn:datarun:sandbox:tax:v1/GetChanges"');
  });
});

describe.each([
  ['a person', () => person, 'PERSON', 'INDIVIDUAL_INCOME'],
  ['an enterprise', () => enterprise, 'ENTERPRISE', 'VALUE_ADDED'],
] as const)('arrears of %s', (_name, taxpayer, kind, taxType) => {
  it('ARREARS_ARISEN then ARREARS_SETTLED, each an event of the taxpayer, the loader showing the arrears', async () => {
    const id = taxpayer().taxpayerId;
    let cursor = await endCursor();
    const arisen = await change('arrears', { taxpayerId: id, taxType, amount: 1234.5, since: '2026-01-15' });
    let read = await readAll(connector, cursor);
    expect(read.events).toEqual([
      { id: String(arisen.id), type: 'ARREARS_ARISEN', subject: { kind, id }, occurredAt: arisen.occurredAt, details: { taxType, amount: 1234.5, since: '2026-01-15' } },
    ]);
    expect(read.events[0]!.occurredAt).toMatch(RFC3339_CST);
    expect(read.changed).toEqual([{ loader: 'taxpayerById', key: id }]);
    expect((await readAll(connector, cursor)).events).toEqual(read.events);
    expect((await load(id))!.arrears).toEqual([{ taxType, amount: 1234.5, since: '2026-01-15' }]);
    expect((await load(id))!.hasArrears).toBe(true);

    cursor = read.cursor;
    const settled = await change('arrear-settlements', { taxpayerId: id, taxType });
    read = await readAll(connector, cursor);
    expect(read.events).toEqual([
      { id: String(settled.id), type: 'ARREARS_SETTLED', subject: { kind, id }, occurredAt: settled.occurredAt, details: { taxType, amount: 1234.5, since: '2026-01-15' } },
    ]);
    expect(Number(settled.id)).toBeGreaterThan(Number(arisen.id));
    expect((await load(id))!.arrears).toEqual([]);
    expect((await load(id))!.hasArrears).toBe(false);
  });
});

describe('paging GetChanges', () => {
  it('gives every change exactly once, in order, whatever the page size (property)', async () => {
    const ids = data.taxpayers.slice(0, 12).map((t) => t.taxpayerId);
    const bySize = new Map<number, Connector<TaxLoaders>>();
    try {
      for (const size of [1, 2, 3, 7]) bySize.set(size, createTaxConnector({ url: sandbox.url, timeoutMs: 5000, changesPageSize: size }));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: ids.length - 1 }), { minLength: 1, maxLength: 12 }), fc.constantFrom(1, 2, 3, 7), async (picks, size) => {
          const c = bySize.get(size)!;
          const cursor = await endCursor(c);
          const recorded: string[] = [];
          for (const pick of picks) {
            // Raise the taxpayer's property-tax arrear, or settle it when owed: always a valid change.
            const owes = sandbox.store.taxpayers.get(ids[pick]!)!.arrear.some((a) => a.taxType === 'PROPERTY');
            const row = owes
              ? await change('arrear-settlements', { taxpayerId: ids[pick], taxType: 'PROPERTY' })
              : await change('arrears', { taxpayerId: ids[pick], taxType: 'PROPERTY', amount: 10 + pick });
            recorded.push(String(row.id));
          }
          const read = await readAll(c, cursor);
          expect(read.events.map((e) => e.id)).toEqual(recorded);
          expect(read.pages).toBeGreaterThanOrEqual(Math.ceil(recorded.length / size));
          expect((await readAll(c, cursor)).events.map((e) => e.id)).toEqual(recorded);
          expect((await readAll(c, read.cursor)).events).toEqual([]);
        }),
        { numRuns: 15 },
      );
    } finally {
      for (const c of bySize.values()) await c.stop();
    }
  });

  it('answers a cursor it did not issue with a client fault', async () => {
    const error = await feedOf(connector)
      .read('not-a-cursor', new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('BAD_USER_INPUT');
    expect((error as HubError).message).toContain('cursor is not a cursor this service issued');
  });

  it('maps a truncated GetChanges reply (malformed) to UPSTREAM_INVALID_RESPONSE', async () => {
    const cursor = await endCursor();
    sandbox.control.setFaults({ mode: 'malformed' });
    const error = await feedOf(connector)
      .read(cursor, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('UPSTREAM_INVALID_RESPONSE');
  });
});

describe('a GetChanges reply that does not match the WSDL', () => {
  const envelope = (inner: string) =>
    `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetChangesResponse xmlns="urn:datarun:sandbox:tax:v1">${inner}</GetChangesResponse></soap:Body></soap:Envelope>`;
  const change = (fields: Record<string, string>) =>
    `<change>${Object.entries({ id: '1', type: 'ARREARS_ARISEN', taxpayerId: person.taxpayerId, taxpayerKind: 'PERSON', occurredAt: '2026-01-01T10:00:00+08:00', taxType: 'DEED', amount: '1.00', since: '2026-01-01', ...fields })
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('')}</change>`;

  it.each([
    ['no nextCursor', `${change({})}<hasMore>false</hasMore>`],
    ['an unknown change type', `${change({ type: 'ARREARS_FORGIVEN' })}<nextCursor>x</nextCursor><hasMore>false</hasMore>`],
    ['a time without offset', `${change({ occurredAt: '2026-01-01T10:00:00' })}<nextCursor>x</nextCursor><hasMore>false</hasMore>`],
    ['changes out of order', `${change({ id: '2' })}${change({ id: '1' })}<nextCursor>x</nextCursor><hasMore>false</hasMore>`],
    ['a cursor that does not advance', `<nextCursor>latest</nextCursor><hasMore>true</hasMore>`],
    ['hasMore not a boolean', `<nextCursor>x</nextCursor><hasMore>maybe</hasMore>`],
  ])('%s is UPSTREAM_INVALID_RESPONSE', async (_what, inner) => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/xml' }).end(envelope(inner)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const scripted = createTaxConnector({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/TaxService` });
    try {
      const error = await feedOf(scripted)
        .read('latest', new AbortController().signal)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe('UPSTREAM_INVALID_RESPONSE');
    } finally {
      await scripted.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the change routes refuse bad input', () => {
  function unknownPerson(): string {
    const first17 = '11010119800101777';
    return first17 + citizenIdCheckChar(first17);
  }
  it.each([
    ['arrears', '[1]', 400, 'the body must be a JSON object'],
    ['arrears', {}, 400, '"taxpayerId" is required: a non-empty string'],
    ['arrears', { taxpayerId: '123' }, 400, '"taxpayerId" must be a citizen identity number (GB 11643) or a credit code (GB 32100)'],
    ['arrears', { taxpayerId: unknownPerson(), taxType: 'DEED', amount: 1 }, 404, '"taxpayerId" names no registered taxpayer'],
    ['arrears', { taxpayerId: person.taxpayerId, taxType: 'SALT' }, 400, '"taxType" must be one of INDIVIDUAL_INCOME, DEED, VALUE_ADDED, CORPORATE_INCOME, PROPERTY'],
    ['arrears', { taxpayerId: person.taxpayerId, taxType: 'DEED', amount: 0 }, 400, '"amount" must be a positive amount in yuan with at most two decimals'],
    ['arrears', { taxpayerId: person.taxpayerId, taxType: 'DEED', amount: 5, since: '2026-13-01' }, 400, '"since" must be a calendar date YYYY-MM-DD'],
    ['arrear-settlements', { taxpayerId: person.taxpayerId }, 400, '"taxType" must be one of INDIVIDUAL_INCOME, DEED, VALUE_ADDED, CORPORATE_INCOME, PROPERTY'],
    ['arrear-settlements', { taxpayerId: person.taxpayerId, taxType: 'CORPORATE_INCOME' }, 409, 'the taxpayer owes no CORPORATE_INCOME tax'],
  ])('%s %j → %i', async (route, body, status, message) => {
    const cursor = await endCursor();
    expect(await post(route, body)).toEqual({ status, body: { error: message } });
    expect((await readAll(connector, cursor)).events).toEqual([]);
  });

  it('refuses a second arrear of the same type with 409, and is not affected by faults', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    await change('arrears', { taxpayerId: enterprise.taxpayerId, taxType: 'DEED', amount: 3 });
    expect(await post('arrears', { taxpayerId: enterprise.taxpayerId, taxType: 'DEED', amount: 3 })).toEqual({ status: 409, body: { error: 'the taxpayer already owes DEED tax: settle it first' } });
    await change('arrear-settlements', { taxpayerId: enterprise.taxpayerId, taxType: 'DEED' });
    expect((await fetch(`${origin()}/__sandbox/arrears`)).status).toBe(405);
  });
});
