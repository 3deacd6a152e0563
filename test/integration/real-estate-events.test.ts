/**
 * The real-estate registry's change feed: each registration made through a sandbox change route
 * is one row of the change table, written in the same transaction as the change, and the
 * connector reads it over SQL as an event of the unit (keyset-paged, ids stable), after which its
 * loader gives the unit's new state.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { CHANGE_FEED_OPERATION, sandboxSetControl, type SandboxSet } from '../../departments';
import { startRealEstateSandbox, type RealEstateSandbox } from '../../departments/real-estate';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData } from '../../departments/seed/model';
import { REAL_ESTATE_EVENTS, connectorModule, createRealEstateConnector, type RealEstateLoaders } from '../../connectors/real-estate';
import { HubError, citizenIdCheckChar, createHubContext, type ChangeFeed, type Connector, type DepartmentEvent } from '../../src/sdk';

const data: SeedData = generateSeed({ seed: 3, size: 120 });
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A valid citizen identity number of a buyer the seed does not know. */
function buyerId(n: number): string {
  const first17 = `11010119800101${String(100 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

let sandbox: RealEstateSandbox;
let connector: Connector<RealEstateLoaders>;

beforeAll(async () => {
  sandbox = await startRealEstateSandbox({ data });
  connector = createRealEstateConnector({ url: sandbox.url, timeoutMs: 5000 });
});

afterAll(async () => {
  await connector?.stop();
  await sandbox?.close();
});

beforeEach(() => sandbox.control.reset());

function feedOf(c: Connector<RealEstateLoaders>): ChangeFeed {
  if (!c.changeFeed) throw new Error('the connector has no change feed');
  return c.changeFeed;
}

async function post(route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sandbox.controlUrl}/__sandbox/${route}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Records a change and returns the change-table row it answers with. */
async function change(route: string, body: unknown): Promise<{ id: number; eventType: string; unitNumber: string; occurredAt: string; details: Record<string, unknown> }> {
  const res = await post(route, body);
  expect(res).toMatchObject({ status: 201 });
  return res.body['change'] as never;
}

/** The feed's current end. */
async function endCursor(c: Connector<RealEstateLoaders> = connector): Promise<string> {
  const feed = feedOf(c);
  return (await feed.read(feed.startCursor, new AbortController().signal)).nextCursor;
}

/** Every page after `cursor`, followed until the feed has no more. */
async function readAll(c: Connector<RealEstateLoaders>, cursor: string): Promise<{ events: DepartmentEvent[]; changed: { loader: string; key: string }[]; pages: number; cursor: string }> {
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

/** The unit as the connector's loader gives it now (a fresh request, so no cached record). */
function load(unitNumber: string) {
  return createHubContext({ requestId: 'test', signal: new AbortController().signal }).loadersOf(connector).propertyByUnit.load(unitNumber);
}

/** Checks the one event read after `cursor` against the change row the route returned. */
async function expectOneEvent(cursor: string, row: Awaited<ReturnType<typeof change>>, type: string, details: Record<string, unknown>): Promise<DepartmentEvent> {
  const { events, changed } = await readAll(connector, cursor);
  expect(events).toHaveLength(1);
  const [event] = events as [DepartmentEvent];
  expect(event).toEqual({ id: String(row.id), type, subject: { kind: 'PROPERTY', id: row.unitNumber }, occurredAt: row.occurredAt, details });
  expect(event.occurredAt).toMatch(ISO_UTC);
  expect(Math.abs(Date.parse(event.occurredAt) - Date.now())).toBeLessThan(10 * 60_000);
  expect(changed).toEqual([{ loader: 'propertyByUnit', key: row.unitNumber }]);
  // Re-reading the same cursor gives the same event, id included.
  expect((await readAll(connector, cursor)).events).toEqual(events);
  return event;
}

describe('the real-estate module', () => {
  it('declares the five event types of its change feed, about properties', () => {
    expect(connectorModule.events).toBe(REAL_ESTATE_EVENTS);
    expect(REAL_ESTATE_EVENTS.map((e) => [e.type, e.subject])).toEqual([
      ['TRANSFER_REGISTERED', 'PROPERTY'],
      ['MORTGAGE_REGISTERED', 'PROPERTY'],
      ['MORTGAGE_RELEASED', 'PROPERTY'],
      ['SEIZURE_REGISTERED', 'PROPERTY'],
      ['SEIZURE_RELEASED', 'PROPERTY'],
    ]);
  });

  it('starts its feed at the current end: changes made before are not replayed', async () => {
    const unit = data.properties[0]!.unitNumber;
    await change('mortgages', { unitNumber: unit, mortgagee: '测试银行', amount: 1000, endDate: '2040-01-01' });
    const cursor = await endCursor();
    expect(cursor).toMatch(/^[1-9]\d*$/);
    expect(await readAll(connector, cursor)).toMatchObject({ events: [], changed: [], pages: 1, cursor });
    // Reads of the change table count as feed reads, not as data statements; the routes' own writes not at all.
    expect(sandbox.control.calls).toEqual(new Map([[CHANGE_FEED_OPERATION, 2]]));
  });
});

describe('each registration through its sandbox route is an event of the unit, and the loader shows it', () => {
  it('TRANSFER_REGISTERED: the buyer is the sole owner and the transfer is on the record', async () => {
    const property = data.properties[1]!;
    const cursor = await endCursor();
    const row = await change('transfers', { unitNumber: property.unitNumber, buyerId: buyerId(1), price: 1_234_567.5, date: '2026-03-01' });
    expect(row).toMatchObject({ eventType: 'TRANSFER_REGISTERED', unitNumber: property.unitNumber });
    const event = await expectOneEvent(cursor, row, 'TRANSFER_REGISTERED', { transferNumber: row.details['transferNumber'], price: 1_234_567.5, previousOwnerCount: property.owners.length });
    expect(event.details!['transferNumber']).toMatch(/^ZY\d{6}2026\d{6}$/);
    const record = await load(property.unitNumber);
    expect(record!.owners).toEqual([{ kind: 'PERSON', ownerId: buyerId(1), share: 100, ownership: 'SOLE' }]);
    expect(record!.transfers.at(-1)).toEqual({
      transferNumber: event.details!['transferNumber'],
      fromKind: property.owners[0]!.kind,
      fromId: property.owners[0]!.ownerId,
      toKind: 'PERSON',
      toId: buyerId(1),
      date: '2026-03-01',
      price: 1_234_567.5,
    });
  });

  it('TRANSFER_REGISTERED to an enterprise, by its credit code', async () => {
    const property = data.properties[2]!;
    const buyer = data.enterprises.find((e) => !property.owners.some((o) => o.ownerId === e.creditCode))!.creditCode;
    const cursor = await endCursor();
    const row = await change('transfers', { unitNumber: property.unitNumber, buyerId: buyer, price: 99 });
    await expectOneEvent(cursor, row, 'TRANSFER_REGISTERED', { transferNumber: row.details['transferNumber'], price: 99, previousOwnerCount: property.owners.length });
    expect((await load(property.unitNumber))!.owners).toEqual([{ kind: 'ENTERPRISE', ownerId: buyer, share: 100, ownership: 'SOLE' }]);
  });

  it('MORTGAGE_REGISTERED and MORTGAGE_RELEASED', async () => {
    const unit = data.properties[3]!.unitNumber;
    let cursor = await endCursor();
    const registered = await change('mortgages', { unitNumber: unit, mortgagee: '中国测试银行济南分行', amount: 500_000, startDate: '2026-01-05', endDate: '2046-01-05' });
    const registrationNumber = registered.details['registrationNumber'] as string;
    expect(registrationNumber).toMatch(/^DY\d{6}2026\d{6}$/);
    await expectOneEvent(cursor, registered, 'MORTGAGE_REGISTERED', { registrationNumber, amount: 500_000 });
    expect((await load(unit))!.mortgages.at(-1)).toEqual({ registrationNumber, mortgagee: '中国测试银行济南分行', amount: 500_000, startDate: '2026-01-05', endDate: '2046-01-05', status: 'ACTIVE' });

    cursor = await endCursor();
    const released = await change('mortgage-releases', { unitNumber: unit, registrationNumber });
    await expectOneEvent(cursor, released, 'MORTGAGE_RELEASED', { registrationNumber });
    expect((await load(unit))!.mortgages.find((m) => m.registrationNumber === registrationNumber)!.status).toBe('RELEASED');
  });

  it('SEIZURE_REGISTERED and SEIZURE_RELEASED', async () => {
    const unit = data.properties[4]!.unitNumber;
    let cursor = await endCursor();
    const seized = await change('seizures', { unitNumber: unit, court: '济南市历下区人民法院', caseNumber: '(2026)鲁0102执1号', endDate: '2029-06-30' });
    const seizureNumber = seized.details['seizureNumber'] as string;
    await expectOneEvent(cursor, seized, 'SEIZURE_REGISTERED', { seizureNumber, caseNumber: '(2026)鲁0102执1号' });
    expect((await load(unit))!.seizures.at(-1)).toMatchObject({ seizureNumber, court: '济南市历下区人民法院', caseNumber: '(2026)鲁0102执1号', endDate: '2029-06-30', status: 'ACTIVE' });

    cursor = await endCursor();
    const lifted = await change('seizure-releases', { unitNumber: unit, seizureNumber });
    await expectOneEvent(cursor, lifted, 'SEIZURE_RELEASED', { seizureNumber });
    expect((await load(unit))!.seizures.find((z) => z.seizureNumber === seizureNumber)!.status).toBe('LIFTED');
  });
});

describe('paging the change table', () => {
  it('gives every change exactly once, in order, whatever the page size (property)', async () => {
    const bySize = new Map<number, Connector<RealEstateLoaders>>();
    try {
      for (const size of [1, 2, 3, 5]) bySize.set(size, createRealEstateConnector({ url: sandbox.url, timeoutMs: 5000, changesPageSize: size }));
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ unit: fc.integer({ min: 0, max: 19 }), kind: fc.constantFrom('mortgages', 'seizures') }), { minLength: 1, maxLength: 9 }),
          fc.constantFrom(1, 2, 3, 5),
          async (changes, size) => {
            const c = bySize.get(size)!;
            const cursor = await endCursor(c);
            const rows = [];
            for (const [i, ch] of changes.entries()) {
              const unitNumber = data.properties[ch.unit]!.unitNumber;
              rows.push(
                await change(
                  ch.kind,
                  ch.kind === 'mortgages' ? { unitNumber, mortgagee: `银行${i}`, amount: 100 + i, endDate: '2050-01-01' } : { unitNumber, court: `法院${i}`, caseNumber: `案${i}`, endDate: '2050-01-01' },
                ),
              );
            }
            const read = await readAll(c, cursor);
            expect(read.events.map((e) => e.id)).toEqual(rows.map((r) => String(r.id)));
            expect(read.events.map((e) => e.subject.id)).toEqual(rows.map((r) => r.unitNumber));
            expect(read.pages).toBeGreaterThanOrEqual(Math.ceil(rows.length / size));
            // Read again from the same cursor: the same ids (stable), and nothing after the end.
            expect((await readAll(c, cursor)).events.map((e) => e.id)).toEqual(read.events.map((e) => e.id));
            expect((await readAll(c, read.cursor)).events).toEqual([]);
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      for (const c of bySize.values()) await c.stop();
    }
  });

  it('refuses a cursor it did not issue', async () => {
    const error = await feedOf(connector)
      .read('page-2', new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('BAD_USER_INPUT');
  });

  it('maps corrupted change rows (malformed) to UPSTREAM_INVALID_RESPONSE', async () => {
    const cursor = await endCursor();
    await change('mortgages', { unitNumber: data.properties[5]!.unitNumber, mortgagee: '银行', amount: 1, endDate: '2050-01-01' });
    sandbox.control.setFaults({ mode: 'malformed' });
    const error = await feedOf(connector)
      .read(cursor, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('UPSTREAM_INVALID_RESPONSE');
    sandbox.control.reset();
    expect((await readAll(connector, cursor)).events).toHaveLength(1);
  });
});

describe('the change routes refuse bad input', () => {
  const unit = () => data.properties[6]!.unitNumber;
  it.each([
    ['transfers', '{not json', 400, 'the body must be a JSON object'],
    ['transfers', [], 400, 'the body must be a JSON object'],
    ['transfers', {}, 400, '"unitNumber" is required: a non-empty string'],
    ['transfers', { unitNumber: 'ABC' }, 400, '"unitNumber" must be 28 characters, got 3'],
    ['transfers', { unitNumber: '370102001001GB00000F00000000', buyerId: buyerId(2), price: 1 }, 404, '"unitNumber" names no unit of the registry'],
    ['transfers', { unitNumber: 'U', buyerId: '110101198001011234', price: 1 }, 400, '"unitNumber" must be 28 characters, got 1'],
    ['mortgages', { unitNumber: 'U', mortgagee: 'x' }, 400, '"unitNumber" must be 28 characters, got 1'],
    ['mortgage-releases', { unitNumber: '370102001001GB00000F00000000', registrationNumber: 'DY1' }, 404, '"unitNumber" names no unit of the registry'],
    ['seizures', { unitNumber: '370102001001GB00000F00000000', court: 'c', caseNumber: 'n', endDate: '2030-01-01' }, 404, '"unitNumber" names no unit of the registry'],
  ])('%s %j → %i', async (route, body, status, message) => {
    expect(await post(route, body)).toEqual({ status, body: { error: message } });
  });

  it.each([
    ['transfers', { buyerId: '110101198001011234', price: 1 }, '"buyerId" must be a citizen identity number (GB 11643) or a credit code (GB 32100)'],
    ['transfers', { buyerId: buyerId(3), price: -5 }, '"price" must be a positive amount in yuan with at most two decimals'],
    ['transfers', { buyerId: buyerId(3), price: 1, date: '2026-02-30' }, '"date" must be a calendar date YYYY-MM-DD'],
    ['mortgages', { mortgagee: '', amount: 1, endDate: '2040-01-01' }, '"mortgagee" is required: a non-empty string'],
    ['mortgages', { mortgagee: 'b', amount: 1.234, endDate: '2040-01-01' }, '"amount" must be a positive amount in yuan with at most two decimals'],
    ['mortgages', { mortgagee: 'b', amount: 1, startDate: '2040-01-01', endDate: '2030-01-01' }, '"endDate" must be after "startDate"'],
    ['mortgage-releases', {}, '"registrationNumber" is required: a non-empty string'],
    ['seizures', { court: 'c', endDate: '2040-01-01' }, '"caseNumber" is required: a non-empty string'],
    ['seizures', { court: 'c', caseNumber: 'n', endDate: 'tomorrow' }, '"endDate" must be a calendar date YYYY-MM-DD'],
    ['seizure-releases', { seizureNumber: 7 }, '"seizureNumber" is required: a non-empty string'],
  ])('%s %j on an existing unit → 400', async (route, fields, message) => {
    const cursor = await endCursor();
    expect(await post(route, { unitNumber: unit(), ...fields })).toEqual({ status: 400, body: { error: message } });
    // Nothing was recorded.
    expect((await readAll(connector, cursor)).events).toEqual([]);
  });

  it('answers 404 for an unknown document and 409 for a release of one no longer in force', async () => {
    expect(await post('mortgage-releases', { unitNumber: unit(), registrationNumber: 'DY-none' })).toEqual({ status: 404, body: { error: '"registrationNumber" names no mortgage of this unit' } });
    expect(await post('seizure-releases', { unitNumber: unit(), seizureNumber: 'CF-none' })).toEqual({ status: 404, body: { error: '"seizureNumber" names no seizure of this unit' } });
    const seized = await change('seizures', { unitNumber: unit(), court: 'c', caseNumber: 'n', endDate: '2040-01-01' });
    await change('seizure-releases', { unitNumber: unit(), seizureNumber: seized.details['seizureNumber'] });
    expect(await post('seizure-releases', { unitNumber: unit(), seizureNumber: seized.details['seizureNumber'] })).toEqual({ status: 409, body: { error: 'the seizure is already lifted' } });
  });

  it('answers a wrong method with 405, and is not affected by faults', async () => {
    expect((await fetch(`${sandbox.controlUrl}/__sandbox/seizures`)).status).toBe(405);
    sandbox.control.setFaults({ mode: 'down' });
    expect((await post('seizures', { unitNumber: unit(), court: 'c', caseNumber: 'n2', endDate: '2040-01-01' })).status).toBe(201);
    const calls = (await (await fetch(`${sandbox.controlUrl}/__sandbox/calls`)).json()) as { total: number };
    expect(calls.total).toBe(0);
  });
});

describe("the hub's operator routes", () => {
  it('offer the sandbox change routes under /__sandbox/real-estate/...', async () => {
    const set: SandboxSet = { data, sandboxes: { 'real-estate': sandbox }, endpoints: {}, close: async () => undefined };
    const control = sandboxSetControl(set);
    const server = http.createServer((req, res) => {
      if (!control(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cursor = await endCursor();
      const res = await fetch(`${base}/__sandbox/real-estate/mortgages`, { method: 'POST', body: JSON.stringify({ unitNumber: data.properties[7]!.unitNumber, mortgagee: 'b', amount: 2, endDate: '2040-01-01' }) });
      expect(res.status).toBe(201);
      expect((await readAll(connector, cursor)).events.map((e) => e.type)).toEqual(['MORTGAGE_REGISTERED']);
      const bad = await fetch(`${base}/__sandbox/real-estate/mortgages`, { method: 'POST', body: '{}' });
      expect(bad.status).toBe(400);
      expect((await fetch(`${base}/__sandbox/real-estate/nothing`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
