import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLResolveInfo } from 'graphql';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedTaxpayer } from '../../departments/seed/model';
import type { Sandbox } from '../../departments/sandbox-kit';
import { MAX_BATCH_IDS, TAX_NAMESPACE, startTaxSandbox } from '../../departments/tax';
import {
  TAX_PRIMARY_LOADER,
  createTaxConnector,
  sanitizeFaultString,
  type TaxLoaders,
  type TaxPaymentRecord,
  type TaxpayerRecord,
} from '../../connectors/tax';
import { HubError, citizenIdCheckChar, createHubContext, type Connector, type HubContext } from '../../src/sdk';

let seed: SeedData;
let sandbox: Sandbox;
let connector: Connector<TaxLoaders>;
/** Servers and connectors a test opened beyond the shared ones, closed after it. */
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  seed = generateSeed({ seed: 1, size: 200 });
  sandbox = await startTaxSandbox({ data: seed });
  connector = createTaxConnector({ url: sandbox.url });
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

function loaders(c: Connector<TaxLoaders> = connector): TaxLoaders {
  return newContext().loadersOf(c);
}

/** A connector made for one test, stopped after it. */
function extraConnector(options: { url?: string; timeoutMs?: number } = {}): Connector<TaxLoaders> {
  const c = createTaxConnector({ url: sandbox.url, ...options });
  cleanups.push(() => c.stop());
  return c;
}

/** A valid citizen identity number that no department knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(900 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

function taxpayersOf(kind: 'PERSON' | 'ENTERPRISE'): SeedTaxpayer[] {
  return seed.taxpayers.filter((t) => t.kind === kind);
}

/** The seed's taxpayer as the connector promises it: payments newest first, references for payer and property. */
function expectedTaxpayer(t: SeedTaxpayer): TaxpayerRecord {
  const payer = t.kind === 'PERSON' ? { idNumber: t.taxpayerId } : { creditCode: t.taxpayerId };
  return {
    taxpayerId: t.taxpayerId,
    kind: t.kind,
    name: t.name,
    taxOffice: t.taxOffice,
    registeredAt: t.registeredAt,
    creditRating: t.creditRating,
    payments: t.payments.map((p) => ({
      voucherNumber: p.voucherNumber,
      taxType: p.taxType,
      amount: p.amount,
      period: p.period,
      paidAt: p.paidAt,
      property: p.unitNumber === null ? null : { unitNumber: p.unitNumber },
      payer,
    })),
    arrears: t.arrears.map((a) => ({ taxType: a.taxType, amount: a.amount, since: a.since })),
    hasArrears: t.arrears.length > 0,
  };
}

/** Every deed-tax payment of the seed for one unit, newest first. */
function expectedDeedTax(unitNumber: string): TaxPaymentRecord[] {
  const payments: (TaxPaymentRecord & { voucherNumber: string })[] = [];
  for (const t of seed.taxpayers) {
    for (const p of t.payments) {
      if (p.taxType !== 'DEED' || p.unitNumber !== unitNumber) continue;
      payments.push({
        voucherNumber: p.voucherNumber,
        taxType: 'DEED',
        amount: p.amount,
        period: p.period,
        paidAt: p.paidAt,
        property: { unitNumber },
        payer: t.kind === 'PERSON' ? { idNumber: t.taxpayerId } : { creditCode: t.taxpayerId },
      });
    }
  }
  return payments.sort((a, b) => b.paidAt.localeCompare(a.paidAt) || a.voucherNumber.localeCompare(b.voucherNumber));
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
async function expectHubError(promise: Promise<unknown>, code: string, message: RegExp | string): Promise<HubError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  const hubError = error as HubError;
  expect(hubError.code).toBe(code);
  expect(hubError.extensions['code']).toBe(code);
  if (typeof message === 'string') expect(hubError.message).toBe(message);
  else expect(hubError.message).toMatch(message);
  return hubError;
}

/** Asserts that an error message holds none of the seed's identifiers or names. */
function expectNoPersonalData(error: HubError, values: readonly string[]): void {
  for (const value of values) expect(error.message).not.toContain(value);
  expect(JSON.stringify(error.extensions)).not.toMatch(/\d{6,}/);
}

/** Posts a raw SOAP request to the sandbox. */
async function postSoap(body: string, soapAction?: string): Promise<{ status: number; contentType: string | null; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8' };
  if (soapAction !== undefined) headers['soapaction'] = soapAction;
  const res = await fetch(sandbox.url, { method: 'POST', headers, body });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

function envelope(operation: string, inner: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${TAX_NAMESPACE}">` +
    `<soap:Body><t:${operation}Request>${inner}</t:${operation}Request></soap:Body></soap:Envelope>`
  );
}

function ids(element: string, values: readonly string[]): string {
  return values.map((v) => `<t:${element}>${v}</t:${element}>`).join('');
}

/** A fake tax service that answers every call with this status and body. */
async function fakeService(status: number, body: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8' }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/TaxService`;
}

function soapReply(content: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${content}</soap:Body></soap:Envelope>`;
}

describe('the tax connector', () => {
  it('exports the primary loader name for the conformance suite', () => {
    expect(TAX_PRIMARY_LOADER).toBe('taxpayerById');
    expect(typeof loaders()[TAX_PRIMARY_LOADER].load).toBe('function');
  });

  it('loads many taxpayers with one GetTaxpayers call, in key order, null for an unknown id', async () => {
    const known = [...taxpayersOf('PERSON').slice(0, 30), ...taxpayersOf('ENTERPRISE').slice(0, 20)];
    const keys = [known[0]!.taxpayerId, unknownIdNumber(1), ...known.slice(1).map((t) => t.taxpayerId)];
    const l = loaders();
    const records = await Promise.all(keys.map((id) => l.taxpayerById.load(id)));
    expect(sandbox.control.calls.get('GetTaxpayers')).toBe(1);
    expect(sandbox.control.totalCalls()).toBe(1);
    expect(records).toHaveLength(keys.length);
    expect(records[1]).toBeNull();
    expect(records.map((r) => r?.taxpayerId ?? null)).toEqual(keys.map((k, i) => (i === 1 ? null : k)));
  });

  it('returns the records the seed put in, payments newest first', async () => {
    const sample = [...taxpayersOf('PERSON').slice(0, 40), ...taxpayersOf('ENTERPRISE')];
    const withArrears = seed.taxpayers.filter((t) => t.arrears.length > 0).slice(0, 5);
    const withDeed = seed.taxpayers.filter((t) => t.payments.some((p) => p.unitNumber !== null)).slice(0, 5);
    const chosen = [...new Map([...sample, ...withArrears, ...withDeed].map((t) => [t.taxpayerId, t])).values()].slice(0, 100);
    const l = loaders();
    const records = await Promise.all(chosen.map((t) => l.taxpayerById.load(t.taxpayerId)));
    expect(records).toEqual(chosen.map(expectedTaxpayer));
    expect(withArrears.length).toBeGreaterThan(0);
    expect(withDeed.length).toBeGreaterThan(0);
  });

  it('splits more than 100 ids into batches of at most 100', async () => {
    const keys = seed.taxpayers.slice(0, 130).map((t) => t.taxpayerId);
    const l = loaders();
    const records = await Promise.all(keys.map((id) => l.taxpayerById.load(id)));
    expect(records.every((r) => r !== null)).toBe(true);
    expect(sandbox.control.calls.get('GetTaxpayers')).toBe(2);
  });

  it('loads deed-tax payments of many units with one GetDeedTaxPayments call, [] for a unit without any', async () => {
    const units = seed.properties.slice(0, 60).map((p) => p.unitNumber);
    const unknownUnit = `${units[0]!.slice(0, 20)}99999999`;
    expect(units).not.toContain(unknownUnit);
    const keys = [...units, unknownUnit];
    const l = loaders();
    const payments = await Promise.all(keys.map((u) => l.deedTaxByUnit.load(u)));
    expect(sandbox.control.calls.get('GetDeedTaxPayments')).toBe(1);
    expect(sandbox.control.totalCalls()).toBe(1);
    expect(payments).toEqual(keys.map(expectedDeedTax));
    expect(payments[payments.length - 1]).toEqual([]);
    expect(payments.filter((p) => p.length > 0).length).toBeGreaterThan(0);
  });

  describe('resolvers', () => {
    it('resolve Person.taxRecords and Enterprise.taxStatus through one call, null for a non-taxpayer or the other kind', async () => {
      const person = taxpayersOf('PERSON')[0]!;
      const enterprise = taxpayersOf('ENTERPRISE')[0]!;
      const ctx = newContext();
      const [p, e, none, wrongKind] = await Promise.all([
        resolve('Person', 'taxRecords', { idNumber: person.taxpayerId }, {}, ctx),
        resolve('Enterprise', 'taxStatus', { creditCode: enterprise.taxpayerId }, {}, ctx),
        resolve('Person', 'taxRecords', { idNumber: unknownIdNumber(2) }, {}, ctx),
        resolve('Enterprise', 'taxStatus', { creditCode: person.taxpayerId }, {}, ctx),
      ]);
      expect(p).toEqual(expectedTaxpayer(person));
      expect(e).toEqual(expectedTaxpayer(enterprise));
      expect(none).toBeNull();
      expect(wrongKind).toBeNull();
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    it('resolve Enterprise.arrears to the arrears, and [] when there are none', async () => {
      const owing = taxpayersOf('ENTERPRISE').find((t) => t.arrears.length > 0)!;
      const clean = taxpayersOf('ENTERPRISE').find((t) => t.arrears.length === 0)!;
      const ctx = newContext();
      const [a, b] = await Promise.all([
        resolve('Enterprise', 'arrears', { creditCode: owing.taxpayerId }, {}, ctx),
        resolve('Enterprise', 'arrears', { creditCode: clean.taxpayerId }, {}, ctx),
      ]);
      expect(a).toEqual(owing.arrears);
      expect(b).toEqual([]);
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    it('resolve Enterprise.arrears to null (an error) when the department fails', async () => {
      sandbox.control.setFaults({ errorRate: 1 });
      await expectHubError(
        Promise.resolve(resolve('Enterprise', 'arrears', { creditCode: taxpayersOf('ENTERPRISE')[0]!.taxpayerId })),
        'CONNECTOR_UNAVAILABLE',
        'Department system "tax" is unavailable: SOAP fault Server.',
      );
    });

    it('filter Taxpayer.payments by tax type and tax year, newest first', async () => {
      const t = taxpayersOf('PERSON').find((x) => new Set(x.payments.map((p) => p.taxType)).size > 1 && x.payments.length > 3)!;
      const record = (await loaders().taxpayerById.load(t.taxpayerId))!;
      const all = resolve('Taxpayer', 'payments', record) as TaxPaymentRecord[];
      expect(all.map((p) => p.voucherNumber)).toEqual(t.payments.map((p) => p.voucherNumber));
      const paidAt = all.map((p) => p.paidAt);
      expect(paidAt).toEqual([...paidAt].sort().reverse());
      const type = t.payments[0]!.taxType;
      expect((resolve('Taxpayer', 'payments', record, { taxType: type }) as TaxPaymentRecord[]).map((p) => p.voucherNumber)).toEqual(
        t.payments.filter((p) => p.taxType === type).map((p) => p.voucherNumber),
      );
      const year = Number(t.payments[0]!.period.slice(0, 4));
      expect((resolve('Taxpayer', 'payments', record, { year, taxType: null }) as TaxPaymentRecord[]).map((p) => p.voucherNumber)).toEqual(
        t.payments.filter((p) => p.period.startsWith(`${year}-`)).map((p) => p.voucherNumber),
      );
      expect(resolve('Taxpayer', 'payments', record, { year: 1999 })).toEqual([]);
      expect(() => resolve('Taxpayer', 'payments', record, { year: 20251 })).toThrow('Argument "year" must be a year between 1900 and 9999.');
    });

    it('resolve Taxpayer.arrears, hasArrears, TaxPayment.property and TaxPayment.payer', async () => {
      const t = seed.taxpayers.find((x) => x.arrears.length > 0 && x.payments.some((p) => p.unitNumber !== null));
      const owing = t ?? seed.taxpayers.find((x) => x.arrears.length > 0)!;
      const record = (await loaders().taxpayerById.load(owing.taxpayerId))!;
      expect(resolve('Taxpayer', 'arrears', record)).toEqual(owing.arrears);
      expect(resolve('Taxpayer', 'hasArrears', record)).toBe(true);
      const payer = owing.kind === 'PERSON' ? { idNumber: owing.taxpayerId } : { creditCode: owing.taxpayerId };
      for (const payment of record.payments) {
        expect(resolve('TaxPayment', 'payer', payment)).toEqual(payer);
        const unit = owing.payments.find((p) => p.voucherNumber === payment.voucherNumber)!.unitNumber;
        expect(resolve('TaxPayment', 'property', payment)).toEqual(unit === null ? null : { unitNumber: unit });
      }
      const clean = (await loaders().taxpayerById.load(seed.taxpayers.find((x) => x.arrears.length === 0)!.taxpayerId))!;
      expect(resolve('Taxpayer', 'hasArrears', clean)).toBe(false);
    });

    it('resolve Property.deedTaxPayments with the payer of each payment', async () => {
      const property = seed.properties.find((p) => p.owners.length > 1) ?? seed.properties[0]!;
      const payments = (await resolve('Property', 'deedTaxPayments', { unitNumber: property.unitNumber })) as TaxPaymentRecord[];
      expect(payments).toEqual(expectedDeedTax(property.unitNumber));
      expect(payments.length).toBeGreaterThan(0);
    });
  });

  describe('failures', () => {
    it('maps a dropped connection to CONNECTOR_UNAVAILABLE', async () => {
      sandbox.control.setFaults({ mode: 'down' });
      const id = seed.taxpayers[0]!.taxpayerId;
      const error = await expectHubError(loaders().taxpayerById.load(id), 'CONNECTOR_UNAVAILABLE', /^Department system "tax" is unavailable: connection reset\.$/);
      expectNoPersonalData(error, [id]);
    });

    it('maps an injected SOAP Server fault to CONNECTOR_UNAVAILABLE', async () => {
      sandbox.control.setFaults({ errorRate: 1 });
      const t = seed.taxpayers[0]!;
      const error = await expectHubError(loaders().taxpayerById.load(t.taxpayerId), 'CONNECTOR_UNAVAILABLE', 'Department system "tax" is unavailable: SOAP fault Server.');
      expectNoPersonalData(error, [t.taxpayerId, t.name]);
      expect(sandbox.control.calls.get('GetTaxpayers')).toBe(1);
    });

    it('maps a truncated envelope to UPSTREAM_INVALID_RESPONSE', async () => {
      sandbox.control.setFaults({ mode: 'malformed' });
      await expectHubError(loaders().taxpayerById.load(seed.taxpayers[0]!.taxpayerId), 'UPSTREAM_INVALID_RESPONSE', 'Department system "tax" sent an invalid reply: the body is not well-formed XML.');
      await expectHubError(loaders().deedTaxByUnit.load(seed.properties[0]!.unitNumber), 'UPSTREAM_INVALID_RESPONSE', 'Department system "tax" sent an invalid reply: the body is not well-formed XML.');
    });

    it('maps a slow department to CONNECTOR_TIMEOUT', async () => {
      sandbox.control.setFaults({ mode: 'slow', slowMs: 10_000 });
      const fast = extraConnector({ timeoutMs: 200 });
      const started = Date.now();
      await expectHubError(loaders(fast).taxpayerById.load(seed.taxpayers[0]!.taxpayerId), 'CONNECTOR_TIMEOUT', 'Department system "tax" did not answer within 200 ms.');
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('maps a soap:Client fault to BAD_USER_INPUT without echoing the identifier', async () => {
      const error = await expectHubError(
        loaders().taxpayerById.load('110101198001019999'),
        'BAD_USER_INPUT',
        'Department system "tax" rejected the request (SOAP fault Client): taxpayerId[1] is neither a valid citizen identity number nor a valid unified social credit code.',
      );
      expect(error.extensions).toEqual({ connector: 'tax', faultcode: 'Client', code: 'BAD_USER_INPUT' });
    });

    it('maps a reply of the wrong shape to UPSTREAM_INVALID_RESPONSE', async () => {
      const id = seed.taxpayers[0]!.taxpayerId;
      const wrongAmount = soapReply(
        `<GetTaxpayersResponse xmlns="${TAX_NAMESPACE}"><taxpayer><taxpayerId>${id}</taxpayerId><kind>PERSON</kind><name>x</name><taxOffice>x</taxOffice>` +
          `<registeredAt>2020-01-01</registeredAt><payment><voucherNumber>1</voucherNumber><taxType>DEED</taxType><amount>12,5</amount>` +
          `<period>2020-01</period><paidAt>2020-01-02</paidAt></payment></taxpayer></GetTaxpayersResponse>`,
      );
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(200, wrongAmount) })).taxpayerById.load(id),
        'UPSTREAM_INVALID_RESPONSE',
        'Department system "tax" sent an invalid reply: GetTaxpayersResponse does not match the WSDL at taxpayer.0.payment.0.amount.',
      );
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(200, soapReply('<OtherResponse/>')) })).taxpayerById.load(id),
        'UPSTREAM_INVALID_RESPONSE',
        'Department system "tax" sent an invalid reply: the SOAP body holds no GetTaxpayersResponse element.',
      );
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(200, soapReply(`<GetTaxpayersResponse xmlns="${TAX_NAMESPACE}"/>`)) })).taxpayerById.load(id),
        'UPSTREAM_INVALID_RESPONSE',
        'Department system "tax" sent an invalid reply: GetTaxpayersResponse does not account for every requested taxpayer.',
      );
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(200, '{"not":"xml"}') })).taxpayerById.load(id),
        'UPSTREAM_INVALID_RESPONSE',
        'Department system "tax" sent an invalid reply: the body is not well-formed XML.',
      );
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(200, '<html><body>maintenance</body></html>') })).taxpayerById.load(id),
        'UPSTREAM_INVALID_RESPONSE',
        'Department system "tax" sent an invalid reply: the body is not a SOAP envelope.',
      );
    });

    it('keeps identifiers and names of a fault reason out of the error', async () => {
      const t = seed.taxpayers[0]!;
      const fault = soapReply(`<soap:Fault><faultcode>soap:Client</faultcode><faultstring>纳税人 ${t.name} (${t.taxpayerId}) is blocked</faultstring></soap:Fault>`);
      const error = await expectHubError(
        loaders(extraConnector({ url: await fakeService(500, fault) })).taxpayerById.load(t.taxpayerId),
        'BAD_USER_INPUT',
        'Department system "tax" rejected the request (SOAP fault Client): * * *** is blocked.',
      );
      expectNoPersonalData(error, [t.taxpayerId, t.name]);
      expect(sanitizeFaultString('call 13800138000 or a@b.cn, id 11010119800101901X')).toBe('call *** or *** id ***');
    });

    it('maps HTTP 500 without a fault to CONNECTOR_UNAVAILABLE', async () => {
      await expectHubError(
        loaders(extraConnector({ url: await fakeService(500, 'Internal Server Error') })).taxpayerById.load(seed.taxpayers[0]!.taxpayerId),
        'CONNECTOR_UNAVAILABLE',
        'Department system "tax" is unavailable: HTTP status 500.',
      );
    });
  });

  describe('health', () => {
    it('reports ok after a Ping', async () => {
      const health = await connector.health();
      expect(health).toMatchObject({ connector: 'tax', ok: true });
      expect(sandbox.control.calls.get('Ping')).toBe(1);
    });

    it('reports not ok, with a reason, when the department is down or closed', async () => {
      sandbox.control.setFaults({ mode: 'down' });
      expect(await connector.health()).toMatchObject({ connector: 'tax', ok: false, reason: expect.stringMatching(/^Department system "tax" is unavailable/) });
      const closed = await startTaxSandbox({ data: seed });
      const probe = extraConnector({ url: closed.url });
      await closed.close();
      expect(await probe.health()).toMatchObject({ connector: 'tax', ok: false, reason: 'Department system "tax" is unavailable: connection refused.' });
    });
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => createTaxConnector({ url: 'not a url' })).toThrow('Tax connector option "url" must be the absolute http(s) URL of the SOAP endpoint, but got: "not a url"');
    expect(() => createTaxConnector({ url: 'ftp://127.0.0.1/x' })).toThrow(/option "url"/);
    expect(() => createTaxConnector({ url: sandbox.url, timeoutMs: 0 })).toThrow('Tax connector option "timeoutMs" must be a positive number of milliseconds, but got: 0');
    expect(() => createTaxConnector({ url: sandbox.url, connections: 1.5 })).toThrow('Tax connector option "connections" must be a positive integer, but got: 1.5');
  });
});

describe('the tax sandbox', () => {
  const faultOf = (text: string) => ({
    code: /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1],
    reason: /<faultstring>([^<]*)<\/faultstring>/.exec(text)?.[1],
  });

  it('serves its WSDL at ?wsdl with its own address', async () => {
    const res = await fetch(`${sandbox.url}?wsdl`);
    const wsdl = await res.text();
    expect(res.status).toBe(200);
    expect(wsdl).toContain(`targetNamespace="${TAX_NAMESPACE}"`);
    expect(wsdl).toContain(`<soap:address location="${sandbox.url}"/>`);
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('answers GetArrears and GetCreditRating with the ids not found', async () => {
    const owing = seed.taxpayers.find((t) => t.arrears.length > 0)!;
    const rated = taxpayersOf('ENTERPRISE')[0]!;
    const unknown = unknownIdNumber(3);
    const arrears = await postSoap(envelope('GetArrears', ids('taxpayerId', [owing.taxpayerId, unknown])), `"${TAX_NAMESPACE}/GetArrears"`);
    expect(arrears.status).toBe(200);
    expect(arrears.text).toContain(`<taxpayerId>${owing.taxpayerId}</taxpayerId><arrear><taxType>${owing.arrears[0]!.taxType}</taxType><amount>${owing.arrears[0]!.amount.toFixed(2)}</amount>`);
    expect(arrears.text).toContain(`<notFound>${unknown}</notFound>`);
    const rating = await postSoap(envelope('GetCreditRating', ids('taxpayerId', [rated.taxpayerId])), `"${TAX_NAMESPACE}/GetCreditRating"`);
    expect(rating.text).toContain(`<taxpayer><taxpayerId>${rated.taxpayerId}</taxpayerId><creditRating>${rated.creditRating}</creditRating></taxpayer>`);
    expect(sandbox.control.calls.get('GetArrears')).toBe(1);
    expect(sandbox.control.calls.get('GetCreditRating')).toBe(1);
  });

  it('rejects more than 100 ids with a soap:Client fault and HTTP 500', async () => {
    const many = Array.from({ length: MAX_BATCH_IDS + 1 }, (_, i) => unknownIdNumber(i));
    const res = await postSoap(envelope('GetTaxpayers', ids('taxpayerId', many)), `"${TAX_NAMESPACE}/GetTaxpayers"`);
    expect(res.status).toBe(500);
    expect(res.contentType).toMatch(/^text\/xml/);
    expect(faultOf(res.text)).toEqual({ code: 'soap:Client', reason: 'at most 100 taxpayerId elements per call, got 101' });
  });

  it('rejects an invalid id or unit number, naming its position but not its value', async () => {
    const bad = await postSoap(envelope('GetTaxpayers', ids('taxpayerId', [seed.taxpayers[0]!.taxpayerId, '110101198001019999'])), 'GetTaxpayers');
    expect(bad.status).toBe(500);
    expect(faultOf(bad.text)).toEqual({ code: 'soap:Client', reason: 'taxpayerId[2] is neither a valid citizen identity number nor a valid unified social credit code' });
    const unit = await postSoap(envelope('GetDeedTaxPayments', ids('unitNumber', ['12345'])), '');
    expect(faultOf(unit.text)).toEqual({ code: 'soap:Client', reason: 'unitNumber[1] must be 28 characters, got 5' });
    const none = await postSoap(envelope('GetTaxpayers', ''));
    expect(faultOf(none.text)).toEqual({ code: 'soap:Client', reason: 'at least one taxpayerId is required' });
  });

  it('rejects XML that is not well-formed, an unknown operation and a mismatched SOAPAction', async () => {
    const broken = await postSoap(envelope('GetTaxpayers', '<t:taxpayerId>1').slice(0, -20));
    expect(broken.status).toBe(500);
    expect(faultOf(broken.text)).toEqual({ code: 'soap:Client', reason: 'the request is not well-formed XML' });
    const unknown = await postSoap(envelope('DeleteTaxpayers', ids('taxpayerId', [unknownIdNumber(4)])));
    expect(faultOf(unknown.text).code).toBe('soap:Client');
    expect(faultOf(unknown.text).reason).toMatch(/^unknown request element DeleteTaxpayersRequest; the operations are GetTaxpayers, /);
    const mismatch = await postSoap(envelope('GetTaxpayers', ids('taxpayerId', [unknownIdNumber(5)])), `"${TAX_NAMESPACE}/GetArrears"`);
    expect(faultOf(mismatch.text)).toEqual({ code: 'soap:Client', reason: 'the SOAPAction header does not match the GetTaxpayersRequest element' });
    const soap12 = await postSoap('<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>');
    expect(faultOf(soap12.text).code).toBe('soap:VersionMismatch');
    expect(sandbox.control.totalCalls()).toBe(0);
  });

  it('serves the kit control routes, untouched by faults', async () => {
    sandbox.control.setFaults({ mode: 'down' });
    const origin = new URL(sandbox.url).origin;
    const calls = await fetch(`${origin}/__sandbox/calls`);
    expect(await calls.json()).toEqual({ total: 0, byOperation: {} });
    const reset = await fetch(`${origin}/__sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sandbox.control.faults.mode).toBe('none');
  });
});
