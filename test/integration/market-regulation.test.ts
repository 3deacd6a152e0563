import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql } from 'graphql';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createMarketRegulationConnector,
  DEFAULT_MARKET_REGULATION_OPTIONS,
  LATEST_CHANGES,
  type EnterpriseRecord,
  type MarketRegulationConnector,
} from '../../connectors/market-regulation';
import { startMarketRegulationSandbox, type MarketRegulationSandbox } from '../../departments/market-regulation';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedEnterprise } from '../../departments/seed/model';
import { createHubContext, creditCodeCheckChar, HubError, orgCodeCheckChar, type HubContext } from '../../src/sdk';

const data: SeedData = generateSeed({ seed: 1, size: 200 });

function newContext(): HubContext {
  return createHubContext({ requestId: 'test', signal: new AbortController().signal });
}

/** A valid credit code that the seed did not register. */
function unknownCreditCode(): string {
  const known = new Set(data.enterprises.map((e) => e.creditCode));
  for (let n = 0; ; n++) {
    const org = `MA${String(n).padStart(6, '0')}`;
    const body = `91370100${org}${orgCodeCheckChar(org)}`;
    const code = body + creditCodeCheckChar(body);
    if (!known.has(code) && code[17] !== undefined && /^[0-9A-HJ-NP-RTUWXY]$/.test(code[16]!)) return code;
  }
}

/** What the department should return for a seeded enterprise. */
function expectedRecord(e: SeedEnterprise, version = 1): EnterpriseRecord {
  return { ...e, version } as EnterpriseRecord;
}

function enterprisesOf(idNumber: string): EnterpriseRecord[] {
  return data.enterprises
    .filter((e) => e.legalRepIdNumber === idNumber)
    .sort((a, b) => (a.creditCode < b.creditCode ? -1 : 1))
    .map((e) => expectedRecord(e));
}

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A fake department on port 0 that answers every call with `reply`. */
async function startFake(reply: (req: http.IncomingMessage, calls: number) => { status?: number; body: string }): Promise<{ url: string; calls: () => number; close(): Promise<void> }> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    req.resume();
    const { status = 200, body } = reply(req, calls);
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('market-regulation connector against its sandbox', () => {
  let sandbox: MarketRegulationSandbox;
  let connector: MarketRegulationConnector;
  const reps = [...new Set(data.enterprises.map((e) => e.legalRepIdNumber))];

  beforeAll(async () => {
    sandbox = await startMarketRegulationSandbox({ data });
    connector = createMarketRegulationConnector({ baseUrl: sandbox.url });
    await connector.start();
  });

  afterAll(async () => {
    await connector.stop();
    await sandbox.close();
  });

  beforeEach(() => sandbox.control.reset());

  describe('enterpriseByCode', () => {
    it('loads a batch of credit codes with exactly one upstream call, in key order, null for unknown codes', async () => {
      const { enterpriseByCode } = newContext().loadersOf(connector);
      const codes = [...data.enterprises.map((e) => e.creditCode), unknownCreditCode(), 'NOT-A-CREDIT-CODE'];
      const records = await enterpriseByCode.loadMany(codes);
      expect(sandbox.control.calls.get('enterprises.batch')).toBe(1);
      expect(sandbox.control.totalCalls()).toBe(1);
      expect(records).toHaveLength(codes.length);
      expect(records.slice(0, data.enterprises.length)).toEqual(data.enterprises.map((e) => expectedRecord(e)));
      expect(records.slice(data.enterprises.length)).toEqual([null, null]);
    });

    it('asks the department nothing when no key is a valid credit code', async () => {
      const { enterpriseByCode } = newContext().loadersOf(connector);
      expect(await enterpriseByCode.load('91370100MA0000000X')).toBeNull();
      expect(sandbox.control.totalCalls()).toBe(0);
    });
  });

  describe('enterprisesByLegalRep', () => {
    it('loads the enterprises of many representatives with one call and primes enterpriseByCode', async () => {
      const loaders = newContext().loadersOf(connector);
      const persons = [...reps, ...data.persons.map((p) => p.idNumber).filter((id) => !reps.includes(id))].slice(0, 100);
      const lists = await Promise.all(persons.map((id) => loaders.enterprisesByLegalRep.load(id)));
      expect(sandbox.control.calls.get('enterprises.byLegalRep')).toBe(1);
      expect(lists).toEqual(persons.map(enterprisesOf));
      expect(lists.some((l) => l.length === 0)).toBe(true);

      const primed = await loaders.enterpriseByCode.loadMany(data.enterprises.map((e) => e.creditCode));
      expect(primed).toEqual(data.enterprises.map((e) => expectedRecord(e)));
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    it('follows cursor pages until the last one', async () => {
      const paged = createMarketRegulationConnector({ baseUrl: sandbox.url, pageSize: 1, maxPages: 100 });
      try {
        const loaders = newContext().loadersOf(paged);
        const lists = await loaders.enterprisesByLegalRep.loadMany(reps);
        expect(lists).toEqual(reps.map(enterprisesOf));
        expect(sandbox.control.calls.get('enterprises.byLegalRep')).toBe(data.enterprises.length);
      } finally {
        await paged.stop();
      }
    });

    it('resolves an invalid identity number to [] without asking the department', async () => {
      const { enterprisesByLegalRep } = newContext().loadersOf(connector);
      expect(await enterprisesByLegalRep.load('123')).toEqual([]);
      expect(sandbox.control.totalCalls()).toBe(0);
    });
  });

  describe('resolvers', () => {
    it('resolve the market-regulation fields of the schema with one call per nesting level', async () => {
      const sdl = ['schema/shared.graphql', 'schema/seal.graphql', 'schema/events.graphql', 'connectors/market-regulation/schema.graphql'].map((f) => readFileSync(path.join(__dirname, '../..', f), 'utf8'));
      // The enum the connector's proof kinds extend (schema/proofs.graphql declares it with the hub's mutation).
      sdl.push('enum ProofKind');
      const schema = makeExecutableSchema({
        typeDefs: sdl,
        resolvers: [
          connector.resolvers,
          {
            Query: { people: (_: unknown, args: { idNumbers: string[] }) => args.idNumbers.map((idNumber) => ({ idNumber })) },
            Person: { gender: () => 'MALE', birthDate: () => '1980-01-01' },
          },
        ] as never,
      });
      const rep = data.enterprises[0]!.legalRepIdNumber;
      const result = await graphql({
        schema,
        contextValue: newContext(),
        variableValues: { ids: [rep, data.persons.find((p) => !reps.includes(p.idNumber))!.idNumber] },
        source: `query ($ids: [ID!]!) { people(idNumbers: $ids) { enterprises {
          creditCode name kind status registeredCapital establishedAt address industry
          legalRepresentative { idNumber }
          licence { licenceNumber issuedAt validUntil scope authority }
          permits { permitNumber kind issuedAt validUntil authority }
          penalties { decisionNumber reason amount decidedAt authority }
          abnormalOperations { reason listedAt removedAt authority } } } }`,
      });
      expect(result.errors).toBeUndefined();
      const expected = enterprisesOf(rep).map(({ legalRepIdNumber, version: _version, ...e }) => ({ ...e, legalRepresentative: { idNumber: legalRepIdNumber } }));
      expect(JSON.parse(JSON.stringify(result.data))).toEqual({ people: [{ enterprises: expected }, { enterprises: [] }] });
      expect(sandbox.control.totalCalls()).toBe(1);
    });

    it('resolve the fields of an enterprise the department does not know to null', async () => {
      const name = connector.resolvers.Enterprise!.name as (p: unknown, a: unknown, c: HubContext) => Promise<unknown>;
      const permits = connector.resolvers.Enterprise!.permits as (p: unknown, a: unknown, c: HubContext) => Promise<unknown>;
      const ctx = newContext();
      const parent = { creditCode: unknownCreditCode() };
      expect(await Promise.all([name(parent, {}, ctx), permits(parent, {}, ctx)])).toEqual([null, null]);
      expect(sandbox.control.calls.get('enterprises.batch')).toBe(1);
    });
  });

  describe('faults', () => {
    const code = data.enterprises[0]!.creditCode;
    const rep = data.enterprises[0]!.legalRepIdNumber;

    it('maps a dropped connection to CONNECTOR_UNAVAILABLE', async () => {
      sandbox.control.setFaults({ mode: 'down' });
      const error = await rejection(newContext().loadersOf(connector).enterprisesByLegalRep.load(rep));
      expect(error.code).toBe('CONNECTOR_UNAVAILABLE');
      expect(error.message).toBe('Department system "market-regulation" is unavailable: connection reset.');
    });

    it('maps an error rate of 1 to CONNECTOR_UNAVAILABLE', async () => {
      sandbox.control.setFaults({ errorRate: 1 });
      const error = await rejection(newContext().loadersOf(connector).enterpriseByCode.load(code));
      expect(error.code).toBe('CONNECTOR_UNAVAILABLE');
      expect(error.message).toBe('Department system "market-regulation" is unavailable: HTTP status 503.');
      expect(sandbox.control.calls.get('enterprises.batch')).toBe(1);
    });

    it('maps a malformed reply to UPSTREAM_INVALID_RESPONSE', async () => {
      sandbox.control.setFaults({ mode: 'malformed' });
      const error = await rejection(newContext().loadersOf(connector).enterprisesByLegalRep.load(rep));
      expect(error.code).toBe('UPSTREAM_INVALID_RESPONSE');
      expect(error.message).toBe('Department system "market-regulation" sent an invalid reply: the body is not valid JSON.');
      expect(error.message).not.toContain(rep);
    });

    it('maps a slow department to CONNECTOR_TIMEOUT', async () => {
      const impatient = createMarketRegulationConnector({ baseUrl: sandbox.url, timeoutMs: 200 });
      try {
        sandbox.control.setFaults({ mode: 'slow', slowMs: 10_000 });
        const error = await rejection(newContext().loadersOf(impatient).enterpriseByCode.load(code));
        expect(error.code).toBe('CONNECTOR_TIMEOUT');
        expect(error.message).toBe('Department system "market-regulation" did not answer within 200 ms.');
      } finally {
        await impatient.stop();
      }
    });
  });

  describe('health', () => {
    it('reports a reachable department as ok', async () => {
      const health = await connector.health();
      expect(health).toMatchObject({ connector: 'market-regulation', ok: true });
      expect(sandbox.control.calls.get('health')).toBe(1);
    });

    it('reports a department answering garbage as not ok', async () => {
      sandbox.control.setFaults({ mode: 'malformed' });
      expect(await connector.health()).toMatchObject({ ok: false, reason: 'Department system "market-regulation" sent an invalid reply: the body is not valid JSON.' });
    });
  });

  describe('the sandbox API', () => {
    async function getJson(pathAndQuery: string, init?: RequestInit): Promise<{ status: number; body: unknown; etag: string | null }> {
      const res = await fetch(sandbox.url + pathAndQuery, init);
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text), etag: res.headers.get('etag') };
    }
    const postReps = (body: unknown) =>
      getJson('/v1/legal-representatives/enterprises', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    it('rejects more than 100 credit codes with a clear 400', async () => {
      const codes = Array.from({ length: 101 }, () => data.enterprises[0]!.creditCode).join(',');
      expect(await getJson(`/v1/enterprises?creditCodes=${codes}`)).toMatchObject({ status: 400, body: { error: 'too many credit codes: at most 100 per call, got 101' } });
    });

    it('rejects an invalid credit code, naming its position and the problem', async () => {
      const bad = data.enterprises[0]!.creditCode.slice(0, 17) + (data.enterprises[0]!.creditCode[17] === '0' ? '1' : '0');
      expect(await getJson(`/v1/enterprises?creditCodes=${data.enterprises[1]!.creditCode},${bad}`)).toMatchObject({
        status: 400,
        body: { error: 'creditCodes[1] check character does not match (GB 32100)' },
      });
      expect(await getJson('/v1/enterprises')).toMatchObject({ status: 400 });
    });

    it('rejects an invalid identity number without echoing it', async () => {
      const bad = data.persons[0]!.idNumber.slice(0, 17) + (data.persons[0]!.idNumber[17] === '0' ? '1' : '0');
      const reply = await postReps({ idNumbers: [bad] });
      expect(reply).toMatchObject({ status: 400, body: { error: 'idNumbers[0] check character does not match (GB 11643 MOD 11-2)' } });
      expect(JSON.stringify(reply.body)).not.toContain(bad);
      expect(await postReps({ nope: true })).toMatchObject({ status: 400, body: { error: '"idNumbers" must be an array of citizen identity numbers' } });
    });

    it('rejects a cursor it did not issue, or one from another query', async () => {
      expect(await getJson('/v1/changes?after=garbage!')).toMatchObject({ status: 400, body: { error: '"after" is not a cursor this service issued' } });
      expect(await getJson('/v1/abnormal-operations?cursor=Zm9v')).toMatchObject({ status: 400, body: { error: '"cursor" is not a cursor this service issued' } });
      expect(await postReps({ idNumbers: reps.slice(0, 3), cursor: 'Zm9v' })).toMatchObject({ status: 400, body: { error: '"cursor" is not a cursor this service issued' } });
      const first = (await postReps({ idNumbers: reps.slice(0, 3), limit: 1 })).body as { nextCursor: string };
      expect(first.nextCursor).toEqual(expect.any(String));
      expect(await postReps({ idNumbers: reps.slice(1, 4), cursor: first.nextCursor })).toMatchObject({
        status: 400,
        body: { error: '"cursor" belongs to another query: send the same idNumbers as the first page' },
      });
      expect(await getJson('/v1/changes?limit=0')).toMatchObject({ status: 400, body: { error: '"limit" must be an integer from 1 to 1000' } });
    });

    it('pages through the abnormal-operation list', async () => {
      const expected = data.enterprises
        .flatMap((e) => e.abnormalOperations.map((a) => ({ creditCode: e.creditCode, name: e.name, ...a })))
        .sort((a, b) => (a.creditCode < b.creditCode ? -1 : a.creditCode > b.creditCode ? 1 : 0));
      const seen: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: unknown[]; nextCursor: string | null } } = (await getJson(`/v1/abnormal-operations?limit=1${cursor ? `&cursor=${cursor}` : ''}`)) as never;
        seen.push(...page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(expected);
      const current = (await getJson('/v1/abnormal-operations?current=true')).body as { items: { removedAt: string | null }[] };
      expect(current.items).toEqual(expected.filter((l) => l.removedAt === null));
    });

    it('answers a single enterprise with a strong ETag and 304 to If-None-Match', async () => {
      const e = data.enterprises[2]!;
      const first = await getJson(`/v1/enterprises/${e.creditCode}`);
      expect(first).toMatchObject({ status: 200, body: expectedRecord(e) });
      expect(first.etag).toMatch(/^"v1-[\w-]+"$/);
      const again = await getJson(`/v1/enterprises/${e.creditCode}`, { headers: { 'if-none-match': first.etag! } });
      expect(again).toMatchObject({ status: 304, etag: first.etag });
      expect(await getJson(`/v1/enterprises/${unknownCreditCode()}`)).toMatchObject({ status: 404, body: { error: 'no enterprise has this credit code' } });
      expect(sandbox.control.calls.get('enterprises.get')).toBe(3);
    });

    it('counts every call by operation name and answers unknown routes with 404', async () => {
      expect(await getJson('/v2/nothing')).toMatchObject({ status: 404, body: { error: 'no such route' } });
      expect(await getJson('/v1/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(Object.fromEntries(sandbox.control.calls)).toEqual({ unknown: 1, health: 1 });
    });
  });
});

describe('market-regulation change feed', () => {
  let sandbox: MarketRegulationSandbox;
  let connector: MarketRegulationConnector;

  beforeAll(async () => {
    sandbox = await startMarketRegulationSandbox({ data });
    connector = createMarketRegulationConnector({ baseUrl: sandbox.url });
  });

  afterAll(async () => {
    await connector.stop();
    await sandbox.close();
  });

  it('reads the seeded registrations and status changes, then costs a 304 while nothing changes', async () => {
    const events: unknown[] = [];
    let page = await connector.readChanges();
    events.push(...page.events);
    while (page.hasMore) {
      page = await connector.readChanges(page.nextCursor);
      events.push(...page.events);
    }
    expect(events).toEqual(data.enterpriseEvents.map(({ seq, ...e }) => ({ id: seq, ...e })));

    const tail = await connector.readChanges(page.nextCursor);
    expect(tail).toMatchObject({ events: [], hasMore: false, notModified: false, nextCursor: page.nextCursor });
    const unchanged = await connector.readChanges(page.nextCursor);
    expect(unchanged).toMatchObject({ events: [], nextCursor: page.nextCursor, notModified: true });

    const e = data.enterprises[0]!;
    const event = sandbox.emitStatusChange(e.creditCode, 'REVOKED');
    const changed = await connector.readChanges(page.nextCursor);
    expect(changed).toMatchObject({ events: [{ id: event.id, kind: 'STATUS_CHANGED', creditCode: e.creditCode, status: 'REVOKED' }], notModified: false });
    expect(changed.nextCursor).not.toBe(page.nextCursor);

    const record = await newContext().loadersOf(connector).enterpriseByCode.load(e.creditCode);
    expect(record).toEqual(expectedRecord({ ...e, status: 'REVOKED' }, 2));
  });

  it('starts from the current end of the feed with LATEST_CHANGES', async () => {
    const head = await connector.readChanges(LATEST_CHANGES);
    expect(head).toMatchObject({ events: [], hasMore: false });
    const registered = { ...data.enterprises[1]!, creditCode: unknownCreditCode(), abnormalOperations: [], status: 'ACTIVE' as const };
    sandbox.registerEnterprise(registered);
    const next = await connector.readChanges(head.nextCursor);
    expect(next.events).toEqual([expect.objectContaining({ kind: 'REGISTERED', creditCode: registered.creditCode, status: 'ACTIVE' })]);
  });

  it('changes the ETag of an enterprise when its status changes', async () => {
    const e = data.enterprises[3]!;
    const before = await fetch(`${sandbox.url}/v1/enterprises/${e.creditCode}`);
    await before.text();
    sandbox.emitStatusChange(e.creditCode, 'CANCELLED');
    const after = await fetch(`${sandbox.url}/v1/enterprises/${e.creditCode}`, { headers: { 'if-none-match': before.headers.get('etag')! } });
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({ status: 'CANCELLED', version: 2 });
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('applies a status change posted to the control route', async () => {
    const e = data.enterprises[4]!;
    const res = await fetch(`${sandbox.url}/__sandbox/status-changes`, { method: 'POST', body: JSON.stringify({ creditCode: e.creditCode, status: 'ABNORMAL' }) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ event: { kind: 'STATUS_CHANGED', creditCode: e.creditCode, status: 'ABNORMAL' } });
    expect(sandbox.store.get(e.creditCode)?.status).toBe('ABNORMAL');
    const bad = await fetch(`${sandbox.url}/__sandbox/status-changes`, { method: 'POST', body: JSON.stringify({ creditCode: e.creditCode, status: 'GONE' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'changeStatus: status must be one of ACTIVE, ABNORMAL, REVOKED, CANCELLED, but got: GONE' });
  });
});

describe('market-regulation connector against a misbehaving department', () => {
  const rep = generateSeed({ seed: 1, size: 200 }).enterprises[0]!.legalRepIdNumber;

  it('fails with UPSTREAM_INVALID_RESPONSE when the department keeps paging forever', async () => {
    const fake = await startFake((_req, n) => ({ body: JSON.stringify({ items: [], nextCursor: `page-${n}` }) }));
    const connector = createMarketRegulationConnector({ baseUrl: fake.url, maxPages: 5 });
    try {
      const error = await rejection(newContext().loadersOf(connector).enterprisesByLegalRep.load(rep));
      expect(error.code).toBe('UPSTREAM_INVALID_RESPONSE');
      expect(error.message).toBe('Department system "market-regulation" sent an invalid reply: enterprises by legal representative: still paging after 5 pages.');
      expect(fake.calls()).toBe(5);
    } finally {
      await connector.stop();
      await fake.close();
    }
  });

  it('fails with UPSTREAM_INVALID_RESPONSE when the paging cursor does not advance', async () => {
    const fake = await startFake(() => ({ body: JSON.stringify({ items: [], nextCursor: 'same' }) }));
    const connector = createMarketRegulationConnector({ baseUrl: fake.url });
    try {
      const error = await rejection(newContext().loadersOf(connector).enterprisesByLegalRep.load(rep));
      expect(error.code).toBe('UPSTREAM_INVALID_RESPONSE');
      expect(error.message).toBe('Department system "market-regulation" sent an invalid reply: enterprises by legal representative: the paging cursor did not advance.');
      expect(fake.calls()).toBe(2);
    } finally {
      await connector.stop();
      await fake.close();
    }
  });

  it('fails with UPSTREAM_INVALID_RESPONSE naming the field, not its value, when a record breaks the contract', async () => {
    const e = data.enterprises[0]!;
    const fake = await startFake(() => ({ body: JSON.stringify({ items: [{ ...e, version: 1, status: 'DISSOLVED' }] }) }));
    const connector = createMarketRegulationConnector({ baseUrl: fake.url });
    try {
      const error = await rejection(newContext().loadersOf(connector).enterpriseByCode.load(e.creditCode));
      expect(error.code).toBe('UPSTREAM_INVALID_RESPONSE');
      expect(error.message).toBe('Department system "market-regulation" sent an invalid reply: enterprise batch: field "items.0.status" does not match the contract (invalid_value).');
    } finally {
      await connector.stop();
      await fake.close();
    }
  });

  it('reports an unreachable department as not ok', async () => {
    const sandbox = await startMarketRegulationSandbox({ data });
    const connector = createMarketRegulationConnector({ baseUrl: sandbox.url });
    await sandbox.close();
    try {
      expect(await connector.health()).toMatchObject({ connector: 'market-regulation', ok: false, reason: 'Department system "market-regulation" is unavailable: connection refused.' });
    } finally {
      await connector.stop();
    }
  });
});

describe('createMarketRegulationConnector options', () => {
  it('defaults the timeout to 2000 ms', () => {
    expect(DEFAULT_MARKET_REGULATION_OPTIONS.timeoutMs).toBe(2000);
  });

  it('rejects a bad option with a TypeError naming it', () => {
    expect(() => createMarketRegulationConnector({ baseUrl: 'not a url' })).toThrow(new TypeError('market-regulation connector: option "baseUrl" must be an absolute http(s) URL'));
    expect(() => createMarketRegulationConnector({ baseUrl: 'http://127.0.0.1:1', timeoutMs: -5 })).toThrow(
      new TypeError('market-regulation connector: option "timeoutMs" must be an integer from 1 to 600000, but got: -5'),
    );
    expect(() => createMarketRegulationConnector({ baseUrl: 'http://127.0.0.1:1', pageSize: 501 })).toThrow(/option "pageSize"/);
  });
});
