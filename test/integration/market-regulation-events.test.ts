/**
 * The market-regulation change feed: each change made through a sandbox change route (a new
 * registration, a status change, an abnormal-operation listing or removal, a licence, a permit, a
 * penalty) is one event of the enterprise on `GET /v1/changes`, mapped by the connector to its
 * event type; afterwards the connector's loader gives the enterprise's new state.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { startMarketRegulationSandbox, type MarketRegulationSandbox } from '../../departments/market-regulation';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData } from '../../departments/seed/model';
import { MARKET_REGULATION_EVENTS, connectorModule, createMarketRegulationConnector, type MarketRegulationConnector } from '../../connectors/market-regulation';
import { HubError, creditCodeProblem, createHubContext, type ChangeFeed, type DepartmentEvent } from '../../src/sdk';

const data: SeedData = generateSeed({ seed: 7, size: 240 });
const RFC3339_CST = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/;
const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

let sandbox: MarketRegulationSandbox;
let connector: MarketRegulationConnector;

beforeAll(async () => {
  sandbox = await startMarketRegulationSandbox({ data });
  connector = createMarketRegulationConnector({ baseUrl: sandbox.url, timeoutMs: 5000 });
});

afterAll(async () => {
  await connector?.stop();
  await sandbox?.close();
});

beforeEach(() => sandbox.control.reset());

function feedOf(c: MarketRegulationConnector): ChangeFeed {
  if (!c.changeFeed) throw new Error('the connector has no change feed');
  return c.changeFeed;
}

async function post(route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sandbox.url}/__sandbox/${route}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type Recorded = { id: number; kind: string; creditCode: string; at: string; details?: Record<string, unknown> };

async function change(route: string, body: unknown): Promise<Recorded> {
  const res = await post(route, body);
  expect(res).toMatchObject({ status: 201 });
  return res.body['event'] as Recorded;
}

async function endCursor(c: MarketRegulationConnector = connector): Promise<string> {
  const feed = feedOf(c);
  return (await feed.read(feed.startCursor, new AbortController().signal)).nextCursor;
}

async function readAll(c: MarketRegulationConnector, cursor: string): Promise<{ events: DepartmentEvent[]; changed: { loader: string; key: string }[]; pages: number; cursor: string }> {
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

function load(creditCode: string) {
  return createHubContext({ requestId: 'test', signal: new AbortController().signal }).loadersOf(connector).enterpriseByCode.load(creditCode);
}

/** Makes one change and checks the single event read after the cursor taken before it. */
async function expectEvent(route: string, body: Record<string, unknown>, type: string, details: (recorded: Recorded) => Record<string, unknown>): Promise<Recorded> {
  const cursor = await endCursor();
  const recorded = await change(route, body);
  const { events, changed } = await readAll(connector, cursor);
  expect(events).toEqual([{ id: String(recorded.id), type, subject: { kind: 'ENTERPRISE', id: recorded.creditCode }, occurredAt: recorded.at, details: details(recorded) }]);
  expect(events[0]!.occurredAt).toMatch(RFC3339_CST);
  expect(changed).toEqual([{ loader: 'enterpriseByCode', key: recorded.creditCode }]);
  expect((await readAll(connector, cursor)).events).toEqual(events);
  return recorded;
}

describe('the market-regulation module', () => {
  it('declares the seven event types of its change feed, about enterprises', () => {
    expect(connectorModule.events).toBe(MARKET_REGULATION_EVENTS);
    expect(MARKET_REGULATION_EVENTS.map((e) => e.type)).toEqual([
      'ENTERPRISE_REGISTERED',
      'ENTERPRISE_STATUS_CHANGED',
      'ABNORMAL_LISTED',
      'ABNORMAL_REMOVED',
      'LICENCE_ISSUED',
      'PERMIT_ISSUED',
      'PENALTY_IMPOSED',
    ]);
    expect(new Set(MARKET_REGULATION_EVENTS.map((e) => e.subject))).toEqual(new Set(['ENTERPRISE']));
  });
});

describe('each change through its sandbox route is an event of the enterprise, and the loader shows it', () => {
  const active = data.enterprises.filter((e) => e.status === 'ACTIVE' && e.abnormalOperations.every((a) => a.removedAt !== null));

  it('ENTERPRISE_REGISTERED: a new enterprise with a valid credit code, returned by the API and the loader', async () => {
    const rep = data.persons.find((p) => p.birthDate < '2000-01-01')!;
    const body = { name: '济南测试科技有限公司', kind: 'LIMITED_LIABILITY', legalRepIdNumber: rep.idNumber, registeredCapital: 1_000_000, address: '山东省济南市历下区测试路1号', industry: '软件和信息技术服务业', scope: '软件开发' };
    const cursor = await endCursor();
    const res = await post('enterprises', body);
    expect(res.status).toBe(201);
    const { event, enterprise } = res.body as { event: Recorded; enterprise: { creditCode: string } };
    const code = enterprise.creditCode;
    expect(creditCodeProblem(code)).toBeUndefined();
    expect(code.slice(0, 8)).toBe(`91${rep.idNumber.slice(0, 6)}`);
    const { events } = await readAll(connector, cursor);
    expect(events).toEqual([{ id: String(event.id), type: 'ENTERPRISE_REGISTERED', subject: { kind: 'ENTERPRISE', id: code }, occurredAt: event.at, details: { licenceNumber: code } }]);
    const record = await load(code);
    expect(record).toMatchObject({ creditCode: code, name: body.name, kind: 'LIMITED_LIABILITY', status: 'ACTIVE', legalRepIdNumber: rep.idNumber, registeredCapital: 1_000_000, establishedAt: today(), version: 1 });
    expect(record!.licence).toMatchObject({ licenceNumber: code, issuedAt: today(), validUntil: null, scope: '软件开发' });
    // The normal API has it too, and so does the by-representative lookup.
    expect((await fetch(`${sandbox.url}/v1/enterprises/${code}`)).status).toBe(200);
    const byRep = await createHubContext({ requestId: 'test', signal: new AbortController().signal }).loadersOf(connector).enterprisesByLegalRep.load(rep.idNumber);
    expect(byRep.map((r) => r.creditCode)).toContain(code);
    // A second registration gets another code.
    const second = await post('enterprises', body);
    expect((second.body['enterprise'] as { creditCode: string }).creditCode).not.toBe(code);
  });

  it('ENTERPRISE_STATUS_CHANGED, with the previous status', async () => {
    const e = active[0]!;
    await expectEvent('status-changes', { creditCode: e.creditCode, status: 'REVOKED' }, 'ENTERPRISE_STATUS_CHANGED', () => ({ previousStatus: 'ACTIVE' }));
    expect(await load(e.creditCode)).toMatchObject({ status: 'REVOKED', version: 2 });
  });

  it('ABNORMAL_LISTED and ABNORMAL_REMOVED', async () => {
    const e = active[1]!;
    await expectEvent('abnormal-listings', { creditCode: e.creditCode, reason: '通过登记的住所无法联系' }, 'ABNORMAL_LISTED', () => ({ reason: '通过登记的住所无法联系', listedAt: today() }));
    expect((await load(e.creditCode))!.abnormalOperations.at(-1)).toMatchObject({ reason: '通过登记的住所无法联系', listedAt: today(), removedAt: null });
    const listed = await (await fetch(`${sandbox.url}/v1/abnormal-operations?current=true&limit=500`)).json();
    expect((listed as { items: { creditCode: string }[] }).items.map((i) => i.creditCode)).toContain(e.creditCode);

    await expectEvent('abnormal-removals', { creditCode: e.creditCode, reason: '已补报年度报告' }, 'ABNORMAL_REMOVED', () => ({ removalReason: '已补报年度报告', listedAt: today() }));
    expect((await load(e.creditCode))!.abnormalOperations.at(-1)).toMatchObject({ removedAt: today() });
  });

  it('LICENCE_ISSUED, with the previous issue date', async () => {
    const e = active[2]!;
    await expectEvent('licences', { creditCode: e.creditCode, scope: '新的经营范围', validUntil: '2056-12-31' }, 'LICENCE_ISSUED', () => ({ licenceNumber: e.creditCode, previousIssuedAt: e.licence.issuedAt }));
    expect((await load(e.creditCode))!.licence).toMatchObject({ licenceNumber: e.creditCode, issuedAt: today(), validUntil: '2056-12-31', scope: '新的经营范围' });
  });

  it('PERMIT_ISSUED, numbered by the department', async () => {
    const e = active[3]!;
    const recorded = await expectEvent('permits', { creditCode: e.creditCode, kind: '食品经营许可证', validUntil: '2031-01-01' }, 'PERMIT_ISSUED', (r) => ({ permitNumber: r.details!['permitNumber'], kind: '食品经营许可证' }));
    expect((await load(e.creditCode))!.permits.at(-1)).toMatchObject({ permitNumber: recorded.details!['permitNumber'], kind: '食品经营许可证', issuedAt: today(), validUntil: '2031-01-01' });
  });

  it('PENALTY_IMPOSED, with the decision number and the amount', async () => {
    const e = active[4]!;
    const recorded = await expectEvent('penalties', { creditCode: e.creditCode, reason: '虚假宣传', amount: 20_000 }, 'PENALTY_IMPOSED', (r) => ({ decisionNumber: r.details!['decisionNumber'], amount: 20_000 }));
    expect((await load(e.creditCode))!.penalties.at(-1)).toMatchObject({ decisionNumber: recorded.details!['decisionNumber'], reason: '虚假宣传', amount: 20_000, decidedAt: today() });
  });
});

describe('paging the change feed', () => {
  it('gives every change exactly once, in order, whatever the page size (property)', async () => {
    const codes = data.enterprises.slice(10, 20).map((e) => e.creditCode);
    const bySize = new Map<number, MarketRegulationConnector>();
    try {
      for (const size of [1, 2, 4]) bySize.set(size, createMarketRegulationConnector({ baseUrl: sandbox.url, changesPageSize: size }));
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ code: fc.integer({ min: 0, max: codes.length - 1 }), route: fc.constantFrom('penalties', 'permits', 'status-changes') }), { minLength: 1, maxLength: 10 }),
          fc.constantFrom(1, 2, 4),
          async (changes, size) => {
            const c = bySize.get(size)!;
            const cursor = await endCursor(c);
            const recorded: string[] = [];
            for (const ch of changes) {
              const creditCode = codes[ch.code]!;
              const body =
                ch.route === 'penalties' ? { creditCode, reason: 'r', amount: 100 } : ch.route === 'permits' ? { creditCode, kind: 'k', validUntil: '2030-01-01' } : { creditCode, status: 'ACTIVE' };
              recorded.push(String((await change(ch.route, body)).id));
            }
            const read = await readAll(c, cursor);
            expect(read.events.map((e) => e.id)).toEqual(recorded);
            expect(read.pages).toBeGreaterThanOrEqual(Math.ceil(recorded.length / size));
            expect((await readAll(c, cursor)).events.map((e) => e.id)).toEqual(recorded);
            expect((await readAll(c, read.cursor)).events).toEqual([]);
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      for (const c of bySize.values()) await c.stop();
    }
  });

  it('maps a malformed feed reply to UPSTREAM_INVALID_RESPONSE', async () => {
    const cursor = await endCursor();
    sandbox.control.setFaults({ mode: 'malformed' });
    const error = await feedOf(connector)
      .read(cursor, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('UPSTREAM_INVALID_RESPONSE');
  });

  it.each([
    ['an unknown kind', { id: 1, kind: 'MERGED', creditCode: 'X', status: 'ACTIVE', at: '2026-01-01T10:00:00+08:00' }],
    ['a time without offset', { id: 1, kind: 'PENALTY_IMPOSED', creditCode: 'X', status: 'ACTIVE', at: '2026-01-01 10:00' }],
    ['nested details', { id: 1, kind: 'PENALTY_IMPOSED', creditCode: 'X', status: 'ACTIVE', at: '2026-01-01T10:00:00+08:00', details: { record: { name: 'x' } } }],
  ])('maps a feed event with %s to UPSTREAM_INVALID_RESPONSE', async (_what, event) => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ events: [event], nextCursor: 'abc', hasMore: false }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const scripted = createMarketRegulationConnector({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
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
  const e = data.enterprises[25]!;
  const rep = data.persons[0]!.idNumber;
  const registration = { name: 'n', kind: 'PARTNERSHIP', legalRepIdNumber: rep, registeredCapital: 1, address: 'a', industry: 'i', scope: 's' };
  it.each([
    ['penalties', 'nope', 400, 'the body must be a JSON object'],
    ['penalties', { reason: 'r', amount: 1 }, 400, '"creditCode" is required: a non-empty string'],
    ['penalties', { creditCode: '91370102MA3C00000Z', reason: 'r', amount: 1 }, 400, '"creditCode" contains a character outside the GB 32100 set (digits and A-Y without I, O, S, V, Z)'],
    ['penalties', { creditCode: e.creditCode, reason: 'r', amount: 'lots' }, 400, '"amount" must be a positive amount in yuan with at most two decimals'],
    ['penalties', { creditCode: e.creditCode, amount: 5 }, 400, '"reason" is required: a non-empty string'],
    ['permits', { creditCode: e.creditCode, kind: 'k', validUntil: '31/12/2030' }, 400, '"validUntil" must be a calendar date YYYY-MM-DD'],
    ['licences', { creditCode: e.creditCode }, 400, '"scope" is required: a non-empty string'],
    ['abnormal-listings', { creditCode: e.creditCode }, 400, '"reason" is required: a non-empty string'],
    ['status-changes', { creditCode: e.creditCode, status: 'GONE' }, 400, 'changeStatus: status must be one of ACTIVE, ABNORMAL, REVOKED, CANCELLED, but got: GONE'],
    ['enterprises', { ...registration, kind: 'TRUST' }, 400, '"kind" must be one of LIMITED_LIABILITY, JOINT_STOCK, SOLE_PROPRIETORSHIP, PARTNERSHIP, INDIVIDUAL_BUSINESS'],
    ['enterprises', { ...registration, legalRepIdNumber: '110101198001011234' }, 400, '"legalRepIdNumber" check character does not match (GB 11643 MOD 11-2)'],
    ['enterprises', { ...registration, registeredCapital: -1 }, 400, '"registeredCapital" must be a positive amount in yuan with at most two decimals'],
    ['enterprises', { ...registration, name: '' }, 400, '"name" is required: a non-empty string'],
  ])('%s %j → %i', async (route, body, status, message) => {
    const cursor = await endCursor();
    expect(await post(route, body)).toEqual({ status, body: { error: message } });
    expect((await readAll(connector, cursor)).events).toEqual([]);
  });

  it('answers 404 for an unknown enterprise and 409 for a removal from a list it is not on', async () => {
    // A valid credit code the department has not registered.
    const code = ((): string => {
      for (let n = 0; n < 31; n++) {
        const candidate = `91370102MA3C0000${'0123456789ABCDEFGHJKLMNPQRTUWXY'[n]}`;
        for (const check of '0123456789ABCDEFGHJKLMNPQRTUWXY') if (creditCodeProblem(candidate + check) === undefined && !data.enterprises.some((x) => x.creditCode === candidate + check)) return candidate + check;
      }
      throw new Error('no code');
    })();
    expect(await post('penalties', { creditCode: code, reason: 'r', amount: 1 })).toEqual({ status: 404, body: { error: '"creditCode" names no registered enterprise' } });
    const notListed = data.enterprises.find((x) => x.abnormalOperations.every((a) => a.removedAt !== null))!;
    expect(await post('abnormal-removals', { creditCode: notListed.creditCode, reason: 'r' })).toEqual({ status: 409, body: { error: 'the enterprise is not on the abnormal-operation list' } });
  });

  it('answers a wrong method with 405, and is not affected by faults', async () => {
    expect((await fetch(`${sandbox.url}/__sandbox/penalties`)).status).toBe(405);
    sandbox.control.setFaults({ mode: 'down' });
    expect((await post('penalties', { creditCode: e.creditCode, reason: 'r', amount: 1 })).status).toBe(201);
  });
});
