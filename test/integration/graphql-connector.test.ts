/**
 * The generic GraphQL connector against real GraphQL services on loopback sockets: a Federation 2
 * subgraph (the housing provident fund's schema, built with @apollo/subgraph) with a request
 * counter and fault switches, and a plain graphql-js service in both batch modes. Queries run
 * through the hub's executable schema (shared SDL + the derived SDL) with a real HubContext.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { buildSchema, graphql, parse, type ExecutionResult, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { connectorModule as housingFund } from '../../connectors/housing-fund';
import { buildHubSchema, loadTypeDefs } from '../../src/gateway/schema';
import { assertSealableFields, assertSealsCovered, createSealResolvers, createSealService, presentSeals, type SealRegistry } from '../../src/gateway/seals';
import { createKeyStore, DEMO_OWNERS, verifySeal } from '../../src/seal';
import { createLoaderCaches, createMemoryRecordCache } from '../../src/state';
import {
  citizenIdCheckChar,
  createHubContext,
  creditCodeCheckChar,
  graphqlConnectorModule,
  type Connector,
  type ConnectorCache,
  type GraphqlLoaders,
} from '../../src/sdk';

const SCHEMA_DIR = path.resolve(__dirname, '../../schema');
/** The seal type as the hub has it (schema/seal.graphql also extends the other departments' types). */
const SEAL_SDL = 'type Seal { issuer: String @share(class: UNCONDITIONAL, department: "seal", updateCycle: REAL_TIME) }';

// ---------------------------------------------------------------------------------------------
// Test data: 60 persons (50 with a fund account), 5 employers.

const personId = (i: number): string => {
  const first17 = `110105198001${String(1 + (i % 28)).padStart(2, '0')}${String(100 + i).slice(-3)}`;
  return first17 + citizenIdCheckChar(first17);
};
const creditCode = (i: number): string => {
  const first17 = `91110105MA0${String(10000 + i)}X`.slice(0, 17);
  return first17 + creditCodeCheckChar(first17);
};
const UNIT = '110105001001GB00001F00010001';

interface Account {
  accountNumber: string;
  holderId: string;
  employerCode: string | null;
  status: string;
  openedAt: string;
  monthlyBase: number;
  contributionRate: number;
  balance: number;
  contributions: { period: string; employerAmount: number; personalAmount: number; paidAt: string }[];
  loans: { loanNumber: string; amount: number; outstanding: number; startedAt: string; termMonths: number; status: string; unitNumber: string | null }[];
  withdrawals: { withdrawnAt: string; amount: number; reason: string }[];
}

const PERSONS = Array.from({ length: 60 }, (_, i) => personId(i));
const ENTERPRISES = Array.from({ length: 5 }, (_, i) => creditCode(i));
const accounts = new Map<string, Account>();
PERSONS.slice(0, 50).forEach((idNumber, i) => {
  accounts.set(`GJJ${1000 + i}`, {
    accountNumber: `GJJ${1000 + i}`,
    holderId: idNumber,
    employerCode: i % 10 === 9 ? null : ENTERPRISES[i % 5]!,
    status: 'NORMAL',
    openedAt: '2015-03-01',
    monthlyBase: 8000 + i,
    contributionRate: 0.12,
    balance: 10_000 + i * 100,
    contributions: [{ period: '2026-10', employerAmount: 960, personalAmount: 960, paidAt: '2026-10-15' }],
    loans: i % 7 === 0 ? [{ loanNumber: `L${i}`, amount: 500_000, outstanding: 320_000, startedAt: '2020-01-01', termMonths: 240, status: 'REPAYING', unitNumber: UNIT }] : [],
    withdrawals: [],
  });
});
const accountOf = new Map([...accounts.values()].map((a) => [a.holderId, a]));
const employers = new Map(
  ENTERPRISES.map((code, i) => [code, { employerAccountNumber: `E${i}`, creditCode: code, status: 'NORMAL', openedAt: '2010-01-01', employees: 10 + i, arrearsMonths: 0, lastPaidPeriod: '2026-10' }]),
);
const employerByNumber = new Map([...employers.values()].map((e) => [e.employerAccountNumber, e]));

// ---------------------------------------------------------------------------------------------
// The services.

/** What a service was asked, and the switches that make it fail. */
interface Service {
  url: string;
  calls: { query: string; variables: Record<string, unknown> }[];
  faults: {
    mode?: 'status500' | 'hang' | 'notJson' | 'shortEntities' | 'wrongType' | 'topError';
    /** Keys whose record resolution throws (a message quoting the key). */
    failKeys: Set<string>;
  };
  close(): Promise<void>;
}

async function serve(schema: GraphQLSchema, rootValue?: unknown): Promise<Service> {
  const hanging: ServerResponse[] = [];
  const service: Service = { url: '', calls: [], faults: { failKeys: new Set() }, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      void (async () => {
        const { query, variables } = JSON.parse(body) as { query: string; variables?: Record<string, unknown> };
        service.calls.push({ query, variables: variables ?? {} });
        const reply = (status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        switch (service.faults.mode) {
          case 'status500':
            return reply(500, `{"error":"database down while reading ${PERSONS[0]}"}`);
          case 'hang':
            hanging.push(res);
            return undefined;
          case 'notJson':
            return reply(200, '<html>gateway error</html>');
          case 'topError':
            return reply(200, JSON.stringify({ data: null, errors: [{ message: `storage failure for ${PERSONS[0]} 王小明`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }));
          default:
        }
        const result = (await graphql({ schema, source: query, variableValues: variables ?? {}, rootValue })) as ExecutionResult<Record<string, any>>;
        if (service.faults.mode === 'shortEntities' && Array.isArray(result.data?._entities)) result.data._entities.pop();
        if (service.faults.mode === 'wrongType' && result.data?._entities?.[0]?.providentFund) result.data._entities[0].providentFund.balance = 'a lot';
        return reply(200, JSON.stringify(result));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  service.close = async () => {
    for (const res of hanging.splice(0)) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return service;
}

const remoteSdl = readFileSync(path.resolve(__dirname, '../../connectors/housing-fund/remote.graphql'), 'utf8');

function fundSubgraph(faults: () => Service['faults']): GraphQLSchema {
  // Asynchronous, like a real subgraph's: a rejection is that entity's error (path _entities.i), not the list's.
  const resolveKey = async (key: string) => {
    await Promise.resolve();
    if (faults().failKeys.has(key)) throw new Error(`record ${key} is locked`);
  };
  return buildSubgraphSchema({
    typeDefs: parse(remoteSdl),
    resolvers: {
      Query: {
        fundAccount: (_: unknown, { accountNumber }: { accountNumber: string }) => accounts.get(accountNumber) ?? null,
        fundEmployer: (_: unknown, { employerAccountNumber }: { employerAccountNumber: string }) => employerByNumber.get(employerAccountNumber) ?? null,
      },
      Person: {
        __resolveReference: async ({ idNumber }: { idNumber: string }) => (await resolveKey(idNumber), { idNumber }),
        providentFund: ({ idNumber }: { idNumber: string }) => accountOf.get(idNumber) ?? null,
      },
      Enterprise: {
        __resolveReference: async ({ creditCode: code }: { creditCode: string }) => (await resolveKey(code), { creditCode: code }),
        providentFundEmployer: ({ creditCode: code }: { creditCode: string }) => employers.get(code) ?? null,
      },
      FundAccount: {
        __resolveReference: async ({ accountNumber }: { accountNumber: string }) => (await resolveKey(accountNumber), accounts.get(accountNumber) ?? null),
        holder: (a: Account) => ({ idNumber: a.holderId }),
        employer: (a: Account) => (a.employerCode ? { creditCode: a.employerCode } : null),
      },
      FundLoan: { property: (l: { unitNumber: string | null }) => (l.unitNumber ? { unitNumber: l.unitNumber } : null) },
      FundEmployer: {
        __resolveReference: ({ employerAccountNumber }: { employerAccountNumber: string }) => employerByNumber.get(employerAccountNumber) ?? null,
        enterprise: (e: { creditCode: string }) => ({ creditCode: e.creditCode }),
      },
    } as never,
  });
}

// ---------------------------------------------------------------------------------------------
// The hub side.

interface Hub {
  schema: GraphQLSchema;
  connector: Connector<GraphqlLoaders>;
  run(source: string, variables?: Record<string, unknown>, cacheOf?: (id: string, signal: AbortSignal) => ConnectorCache | undefined): Promise<ExecutionResult<any>>;
}

function hubOver(connector: Connector<GraphqlLoaders>, sdl: string): Hub {
  const schema = buildHubSchema([connector], [readFileSync(path.join(SCHEMA_DIR, 'shared.graphql'), 'utf8'), SEAL_SDL, sdl]);
  return {
    schema,
    connector,
    run: (source, variables = {}, cacheOf) =>
      graphql({ schema, source, variableValues: variables, contextValue: createHubContext({ requestId: 'test', signal: new AbortController().signal, ...(cacheOf ? { cacheOf } : {}) }) }) as Promise<ExecutionResult<any>>,
  };
}

const errorsOf = (result: ExecutionResult) => (result.errors ?? []).map((e) => ({ path: e.path?.join('.'), code: e.extensions?.code, connector: e.extensions?.connector }));

describe('GraphQL connector, federation (the housing provident fund subgraph)', () => {
  let subgraph: Service;
  let hub: Hub;
  let sdl: string;

  beforeAll(async () => {
    subgraph = await serve(fundSubgraph(() => subgraph.faults));
    const settings = housingFund.settings.parse({ url: subgraph.url, timeoutMs: 1000 });
    sdl = await housingFund.typeDefs(settings);
    hub = hubOver(housingFund.create(settings, { defaultTimeoutMs: 2000 }), sdl);
    await hub.connector.start();
  });
  afterAll(async () => {
    await hub?.connector.stop();
    await subgraph?.close();
  });
  beforeEach(() => {
    subgraph.calls.length = 0;
    subgraph.faults = { failKeys: new Set() };
  });

  it('answers 50 persons with one call per nesting level: persons and their accounts, then the employers', async () => {
    const ids = PERSONS.slice(0, 50);
    const result = await hub.run(
      `query($ids: [ID!]!) { people(idNumbers: $ids) { idNumber providentFund { accountNumber balance status holder { idNumber } employer { creditCode providentFundEmployer { status employees } } loans { outstanding property { unitNumber } } } } }`,
      { ids },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.people).toHaveLength(50);
    expect(result.data.people[0]).toEqual({
      idNumber: ids[0],
      providentFund: {
        accountNumber: 'GJJ1000',
        balance: 10_000,
        status: 'NORMAL',
        holder: { idNumber: ids[0] },
        employer: { creditCode: ENTERPRISES[0], providentFundEmployer: { status: 'NORMAL', employees: 10 } },
        loans: [{ outstanding: 320_000, property: { unitNumber: UNIT } }],
      },
    });
    expect(result.data.people[9].providentFund.employer).toBeNull();
    expect(subgraph.calls).toHaveLength(2);
    // The representations travel as variables, never in the document.
    expect(subgraph.calls[0]!.query).toContain('_entities(representations: $representations)');
    expect(subgraph.calls[0]!.query).not.toContain(ids[0]!);
    expect(subgraph.calls[0]!.variables.representations).toHaveLength(50);
    expect((subgraph.calls[1]!.variables.representations as unknown[]).length).toBe(5);
  });

  it('answers a person without an account with null', async () => {
    const result = await hub.run(`query($ids: [ID!]!) { people(idNumbers: $ids) { providentFund { balance } } }`, { ids: PERSONS.slice(45, 60) });
    expect(result.errors).toBeUndefined();
    expect(result.data.people.filter((p: { providentFund: unknown }) => p.providentFund === null)).toHaveLength(10);
    expect(subgraph.calls).toHaveLength(1);
  });

  it('batches root fields answered by key through _entities on the type\'s own key', async () => {
    const result = await hub.run(`{ a: fundAccount(accountNumber: "GJJ1001") { balance holder { idNumber } } b: fundAccount(accountNumber: "GJJ1002") { balance } c: fundAccount(accountNumber: "NONE") { balance } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ a: { balance: 10_100, holder: { idNumber: PERSONS[1] } }, b: { balance: 10_200 }, c: null });
    expect(subgraph.calls).toHaveLength(1);
    expect(subgraph.calls[0]!.query).toContain('... on FundAccount');
  });

  it('fetches the whole record whatever the query selected, so one record serves every later selection', async () => {
    await hub.run(`{ fundEmployer(employerAccountNumber: "E1") { status } }`);
    expect(subgraph.calls[0]!.query).toMatch(/employerAccountNumber enterprise \{ creditCode \} status openedAt employees arrearsMonths lastPaidPeriod/);
  });

  it('rejects only the keys the subgraph reported errors for (partial failure), never passing its message on', async () => {
    subgraph.faults.failKeys.add(PERSONS[3]!);
    const result = await hub.run(`query($ids: [ID!]!) { people(idNumbers: $ids) { providentFund { balance } } }`, { ids: PERSONS.slice(0, 5) });
    expect(result.data.people.map((p: { providentFund: { balance: number } | null }) => p.providentFund?.balance ?? null)).toEqual([10_000, 10_100, 10_200, null, 10_400]);
    expect(errorsOf(result)).toEqual([{ path: 'people.3.providentFund', code: 'CONNECTOR_UNAVAILABLE', connector: 'housing-fund' }]);
    expect(JSON.stringify(result.errors)).not.toContain(PERSONS[3]!);
    expect(JSON.stringify(result.errors)).not.toContain('locked');
    expect(subgraph.calls).toHaveLength(1);
  });

  it.each([
    ['an HTTP failure', 'status500', 'CONNECTOR_UNAVAILABLE'],
    ['GraphQL errors without a path', 'topError', 'CONNECTOR_UNAVAILABLE'],
    ['a body that is not JSON', 'notJson', 'UPSTREAM_INVALID_RESPONSE'],
    ['an _entities list of the wrong length', 'shortEntities', 'UPSTREAM_INVALID_RESPONSE'],
    ['a value of the wrong type', 'wrongType', 'UPSTREAM_INVALID_RESPONSE'],
  ] as const)('maps %s (fault %s) to %s for the whole batch, naming the connector and nothing personal', async (_what, mode, code) => {
    subgraph.faults.mode = mode;
    const result = await hub.run(`query($ids: [ID!]!) { people(idNumbers: $ids) { idNumber providentFund { balance } } }`, { ids: PERSONS.slice(0, 3) });
    expect(result.data.people.map((p: { idNumber: string }) => p.idNumber)).toEqual(PERSONS.slice(0, 3));
    expect(errorsOf(result)).toEqual([0, 1, 2].map((i) => ({ path: `people.${i}.providentFund`, code, connector: 'housing-fund' })));
    const text = JSON.stringify(result.errors);
    for (const secret of [PERSONS[0]!, '王小明', 'database', 'storage', 'a lot']) expect(text).not.toContain(secret);
  });

  it('maps a subgraph that does not answer to CONNECTOR_TIMEOUT', async () => {
    subgraph.faults.mode = 'hang';
    const result = await hub.run(`{ person(idNumber: "${PERSONS[0]}") { providentFund { balance } } }`);
    expect(errorsOf(result)).toEqual([{ path: 'person.providentFund', code: 'CONNECTOR_TIMEOUT', connector: 'housing-fund' }]);
  });

  it('seals each fund account and employer whole: shared fields only, in the shape the graph shows, links as references', async () => {
    const context = createHubContext({ requestId: 'seal', signal: new AbortController().signal });
    const loaders = context.loadersOf(hub.connector);
    const spec = hub.connector.seals.FundAccount!;
    const record = await spec.load({ accountNumber: 'GJJ1000' }, loaders);
    expect(spec.recordType).toBe('FundAccount');
    expect(spec.id(record)).toBe('GJJ1000');
    const fields = spec.fields(record);
    expect(Object.keys(fields).sort()).toEqual(['accountNumber', 'balance', 'contributionRate', 'contributions', 'employer', 'holder', 'loans', 'monthlyBase', 'openedAt', 'status', 'withdrawals']);
    expect(fields).toMatchObject({ holder: { idNumber: PERSONS[0] }, employer: { creditCode: ENTERPRISES[0] }, loans: [{ loanNumber: 'L0', property: { unitNumber: UNIT } }] });
    expect(() => assertSealableFields(hub.schema.getType('FundAccount') as GraphQLObjectType, fields, hub.schema)).not.toThrow();
    const employer = hub.connector.seals.FundEmployer!;
    const employerRecord = await employer.load({ employerAccountNumber: 'E2' }, loaders);
    expect(employer.fields(employerRecord)).toEqual({ employerAccountNumber: 'E2', enterprise: { creditCode: ENTERPRISES[2] }, status: 'NORMAL', openedAt: '2010-01-01', employees: 12, arrearsMonths: 0, lastPaidPeriod: '2026-10' });
    expect(() => assertSealsCovered(hub.schema, [hub.connector])).not.toThrow();
    // A record already read whole (through Person.providentFund) is sealed as it is, without another call.
    subgraph.calls.length = 0;
    expect(spec.fields(await spec.load(record, loaders))).toEqual(fields);
    expect(subgraph.calls).toHaveLength(0);
  });

  it('seals through the gateway\'s seal service: the seal of an account discloses exactly the fields the reply shows', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'datarun-graphql-seal-'));
    try {
      // The trust list of the test: the demo parties and the fund centre (its seal key).
      const keyStore = await createKeyStore(dir, { owners: [...DEMO_OWNERS, { id: 'housing-fund', kind: 'department', name: 'Housing provident fund 住房公积金', custody: true, sandbox: true }] });
      const schema = buildHubSchema([hub.connector], [...loadTypeDefs(), sdl], [createSealResolvers([hub.connector], createSealService(keyStore))]);
      const seals: SealRegistry = { pending: [] };
      const contextValue = Object.assign(createHubContext({ requestId: 'seal', signal: new AbortController().signal }), { seals });
      const result = (await graphql({
        schema,
        source: `{ fundAccount(accountNumber: "GJJ1000") { balance status holder { idNumber } seal { recordType issuer token } } }`,
        contextValue,
      })) as ExecutionResult<any>;
      expect(result.errors).toBeUndefined();
      presentSeals(result.data, seals);
      const seal = result.data.fundAccount.seal;
      expect(seal).toMatchObject({ recordType: 'FundAccount', issuer: 'housing-fund' });
      const verified = verifySeal(seal.token, { keyStore });
      expect(verified).toMatchObject({ valid: true, issuer: 'housing-fund', recordType: 'FundAccount' });
      expect((verified as { disclosed: unknown }).disclosed).toEqual({ balance: 10_000, recordStatus: 'NORMAL', holder: { idNumber: PERSONS[0] } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves a second request from the record cache, and does not cache a key the subgraph failed', async () => {
    const caches = createLoaderCaches({ cache: createMemoryRecordCache(), version: 'test', ttlSeconds: { 'housing-fund': 300 } });
    const cacheOf = (id: string, signal: AbortSignal) => caches.forConnector(id, signal);
    const query = `query($ids: [ID!]!) { people(idNumbers: $ids) { providentFund { balance } } }`;
    subgraph.faults.failKeys.add(PERSONS[1]!);
    const first = await hub.run(query, { ids: PERSONS.slice(0, 3) }, cacheOf);
    expect(errorsOf(first)).toEqual([{ path: 'people.1.providentFund', code: 'CONNECTOR_UNAVAILABLE', connector: 'housing-fund' }]);
    subgraph.faults.failKeys.clear();
    subgraph.calls.length = 0;
    const second = await hub.run(query, { ids: PERSONS.slice(0, 3) }, cacheOf);
    expect(second.errors).toBeUndefined();
    expect(second.data.people[1].providentFund.balance).toBe(10_100);
    // Only the key that failed is asked for again.
    expect(subgraph.calls).toHaveLength(1);
    expect(subgraph.calls[0]!.variables.representations).toEqual([{ __typename: 'Person', idNumber: PERSONS[1] }]);
  });

  it('reports a failed key to every request that joined the failed call through the record cache, not as a missing record', async () => {
    const caches = createLoaderCaches({ cache: createMemoryRecordCache(), version: 'test', ttlSeconds: { 'housing-fund': 300 } });
    const cacheOf = (id: string, signal: AbortSignal) => caches.forConnector(id, signal);
    const query = `query($ids: [ID!]!) { people(idNumbers: $ids) { providentFund { balance } } }`;
    subgraph.faults.failKeys.add(PERSONS[11]!);
    const results = await Promise.all([hub.run(query, { ids: PERSONS.slice(10, 13) }, cacheOf), hub.run(query, { ids: PERSONS.slice(10, 13) }, cacheOf)]);
    for (const result of results) {
      expect(errorsOf(result)).toEqual([{ path: 'people.1.providentFund', code: 'CONNECTOR_UNAVAILABLE', connector: 'housing-fund' }]);
      expect(result.data.people[2].providentFund.balance).toBe(11_200);
    }
  });

  it('probes the subgraph with { __typename }', async () => {
    expect(await hub.connector.health()).toMatchObject({ connector: 'housing-fund', ok: true });
    subgraph.faults.mode = 'status500';
    const health = await hub.connector.health();
    expect(health).toMatchObject({ ok: false });
    expect(health.reason).toMatch(/housing-fund.*HTTP status 500/);
  });

  it('fetches the SDL from the subgraph (_service) when no snapshot is given, and derives the same hub SDL', async () => {
    const fetched = graphqlConnectorModule({ id: 'housing-fund', title: 'Housing provident fund', classification: JSON.parse(readFileSync(path.resolve(__dirname, '../../connectors/housing-fund/classification.json'), 'utf8')), sealed: ['FundAccount', 'FundEmployer'] });
    const settings = fetched.settings.parse({ url: subgraph.url });
    expect(await fetched.typeDefs(settings)).toBe(await housingFund.typeDefs(housingFund.settings.parse({ url: subgraph.url })));
    expect(subgraph.calls[0]!.query).toContain('_service { sdl }');
  });
});

describe('GraphQL connector, plain graphql-js service', () => {
  const PLAIN_SDL = `
    type Query {
      persons(idNumbers: [ID!]!): [Person]!
      person(idNumber: ID!): Person
      account(number: ID!): Account
      accounts(numbers: [ID!]!): [Account]!
      topBalances(limit: Int = 3): [Account!]!
    }
    type Person { idNumber: ID!  fundAccount: Account }
    "A fund account."
    type Account { number: ID!  balance: Float!  holder: Person!  history: [Float!]! }`;
  const schema = buildSchema(PLAIN_SDL);
  const toAccount = (a: Account | undefined) => (a ? { number: a.accountNumber, balance: a.balance, holder: { idNumber: a.holderId, fundAccount: null }, history: [a.balance] } : null);
  let failKeys = new Set<string>();
  const personOf = (idNumber: string) => {
    if (failKeys.has(idNumber)) throw new Error(`locked ${idNumber}`);
    return { idNumber, fundAccount: () => toAccount(accountOf.get(idNumber)) };
  };
  const rootValue = {
    // Each item its own promise: a rejection is that item's error (path persons.i), not the list's.
    persons: ({ idNumbers }: { idNumbers: string[] }) => idNumbers.map((id) => Promise.resolve().then(() => personOf(id))),
    person: ({ idNumber }: { idNumber: string }) => personOf(idNumber),
    account: ({ number }: { number: string }) => toAccount(accounts.get(number)),
    accounts: ({ numbers }: { numbers: string[] }) => numbers.map((n) => toAccount(accounts.get(n))),
    topBalances: ({ limit }: { limit: number }) => [...accounts.values()].slice(-limit).map(toAccount),
  };
  let service: Service;
  const classification = { fields: { 'Person.fundAccount': { class: 'UNCONDITIONAL' }, 'Account.balance': { class: 'UNCONDITIONAL' }, 'Query.account': { class: 'UNCONDITIONAL' }, 'Query.topBalances': { class: 'UNCONDITIONAL', listSize: 10 } } };

  beforeAll(async () => {
    service = await serve(schema, rootValue);
  });
  afterAll(async () => service?.close());
  beforeEach(() => {
    service.calls.length = 0;
    failKeys = new Set();
  });

  async function plainHub(batchMode: 'list' | 'aliased', fetchSdl = false): Promise<Hub> {
    const module = graphqlConnectorModule({ id: 'plain-fund', title: 'A plain fund service', ...(fetchSdl ? {} : { sdl: PLAIN_SDL }), classification });
    const batch =
      batchMode === 'list'
        ? { Person: { rootField: 'persons', argument: 'idNumbers' }, Account: { rootField: 'accounts', argument: 'numbers', key: 'number' } }
        : { Person: { rootField: 'person', argument: 'idNumber', aliased: true }, Account: { rootField: 'account', argument: 'number', aliased: true } };
    const settings = module.settings.parse({ url: service.url, mode: 'plain', batch });
    const sdl = await module.typeDefs(settings);
    return hubOver(module.create(settings, { defaultTimeoutMs: 2000 }), sdl);
  }

  it.each(['list', 'aliased'] as const)('answers 20 persons in one call with the %s batch field, keys in order, nulls kept', async (mode) => {
    const hub = await plainHub(mode);
    const ids = PERSONS.slice(40, 60);
    const result = await hub.run(`query($ids: [ID!]!) { people(idNumbers: $ids) { idNumber fundAccount { number balance holder { idNumber } history } } }`, { ids });
    expect(result.errors).toBeUndefined();
    expect(result.data.people.map((p: { fundAccount: { balance: number } | null }) => p.fundAccount?.balance ?? null)).toEqual(ids.map((id) => accountOf.get(id)?.balance ?? null));
    expect(result.data.people[0].fundAccount.holder).toEqual({ idNumber: ids[0] });
    expect(service.calls).toHaveLength(1);
    if (mode === 'aliased') expect(service.calls[0]!.query).toMatch(/k0: person\(idNumber: \$k0\).*k19: person\(idNumber: \$k19\)/);
    else expect(service.calls[0]!.variables.keys).toEqual(ids);
    await hub.connector.stop();
  });

  it.each(['list', 'aliased'] as const)('rejects only the keys the service failed (%s)', async (mode) => {
    const hub = await plainHub(mode);
    failKeys.add(PERSONS[2]!);
    const result = await hub.run(`query($ids: [ID!]!) { people(idNumbers: $ids) { fundAccount { balance } } }`, { ids: PERSONS.slice(0, 4) });
    expect(result.data.people.map((p: { fundAccount: { balance: number } | null }) => p.fundAccount?.balance ?? null)).toEqual([10_000, 10_100, null, 10_300]);
    expect(errorsOf(result)).toEqual([{ path: 'people.2.fundAccount', code: 'CONNECTOR_UNAVAILABLE', connector: 'plain-fund' }]);
    expect(JSON.stringify(result.errors)).not.toContain(PERSONS[2]!);
    await hub.connector.stop();
  });

  it('answers root fields: by key through the type\'s batch field, others in one call per batch with their defaults', async () => {
    const hub = await plainHub('list');
    const result = await hub.run(`{ a: account(number: "GJJ1003") { balance } b: account(number: "GJJ1004") { balance } top: topBalances { number } two: topBalances(limit: 2) { number } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ a: { balance: 10_300 }, b: { balance: 10_400 }, top: [{ number: 'GJJ1047' }, { number: 'GJJ1048' }, { number: 'GJJ1049' }], two: [{ number: 'GJJ1048' }, { number: 'GJJ1049' }] });
    // One call for the two accounts (accounts(numbers:)), one for both topBalances argument sets.
    expect(service.calls).toHaveLength(2);
    await hub.connector.stop();
  });

  it('fetches the SDL by introspection when no snapshot is given', async () => {
    const hub = await plainHub('list', true);
    expect(service.calls[0]!.query).toContain('__schema');
    const result = await hub.run(`{ person(idNumber: "${PERSONS[0]}") { fundAccount { balance } } }`);
    expect(result.data).toEqual({ person: { fundAccount: { balance: 10_000 } } });
    await hub.connector.stop();
  });
});
