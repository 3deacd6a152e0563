import { Kind, parse, print, visit, type DefinitionNode, type DocumentNode } from 'graphql';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedFundAccount, SeedFundEmployer } from '../../departments/seed/model';
import type { Sandbox } from '../../departments/sandbox-kit';
import { HOUSING_FUND_SDL, MAX_REPRESENTATIONS, sandboxModule, startHousingFundSandbox } from '../../departments/housing-fund';
import { citizenIdCheckChar, creditCodeCheckChar, orgCodeCheckChar } from '../../src/sdk';

/**
 * The subgraph's contract, as the hub's GraphQL connector is written against it. The sandbox's
 * SDL may add descriptions, nothing else.
 */
const CONTRACT_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  fundAccount(accountNumber: ID!): FundAccount
  fundEmployer(employerAccountNumber: ID!): FundEmployer
}

type Person @key(fields: "idNumber") {
  idNumber: ID!
  providentFund: FundAccount
}

type Enterprise @key(fields: "creditCode") {
  creditCode: ID!
  providentFundEmployer: FundEmployer
}

type Property @key(fields: "unitNumber") {
  unitNumber: ID!
}

type FundAccount @key(fields: "accountNumber") {
  accountNumber: ID!
  holder: Person!
  employer: Enterprise
  status: FundAccountStatus!
  openedAt: String!
  monthlyBase: Float!
  contributionRate: Float!
  balance: Float!
  contributions: [FundContribution!]!
  loans: [FundLoan!]!
  withdrawals: [FundWithdrawal!]!
}

enum FundAccountStatus { NORMAL SEALED CLOSED }

type FundContribution {
  period: String!
  employerAmount: Float!
  personalAmount: Float!
  paidAt: String!
}

type FundLoan {
  loanNumber: ID!
  amount: Float!
  outstanding: Float!
  startedAt: String!
  termMonths: Int!
  status: FundLoanStatus!
  property: Property
}

enum FundLoanStatus { REPAYING SETTLED OVERDUE }

type FundWithdrawal {
  withdrawnAt: String!
  amount: Float!
  reason: FundWithdrawalReason!
}

enum FundWithdrawalReason { HOUSE_PURCHASE RENT LOAN_REPAYMENT RETIREMENT }

type FundEmployer @key(fields: "employerAccountNumber") {
  employerAccountNumber: ID!
  enterprise: Enterprise!
  status: FundEmployerStatus!
  openedAt: String!
  employees: Int!
  arrearsMonths: Int!
  lastPaidPeriod: String
}

enum FundEmployerStatus { NORMAL SUSPENDED CLOSED }
`;

const ACCOUNT_FIELDS = `
  accountNumber holder { idNumber } employer { creditCode } status openedAt monthlyBase contributionRate balance
  contributions { period employerAmount personalAmount paidAt }
  loans { loanNumber amount outstanding startedAt termMonths status property { unitNumber } }
  withdrawals { withdrawnAt amount reason }`;
const EMPLOYER_FIELDS = 'employerAccountNumber enterprise { creditCode } status openedAt employees arrearsMonths lastPaidPeriod';
const PERSONS_QUERY = `query Persons($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Person { idNumber providentFund { ${ACCOUNT_FIELDS} } } }
}`;
const ENTERPRISES_QUERY = `query Enterprises($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Enterprise { creditCode providentFundEmployer { ${EMPLOYER_FIELDS} } } }
}`;

let seed: SeedData;
let sandbox: Sandbox;

beforeAll(async () => {
  seed = generateSeed({ seed: 1, size: 200 });
  sandbox = await startHousingFundSandbox({ data: seed });
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => sandbox.control.reset());

interface GraphqlReply {
  status: number;
  text: string;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
}

/** Posts one GraphQL request to the sandbox over HTTP. */
async function graphql(query: string, variables?: Record<string, unknown>, init: { signal?: AbortSignal } = {}): Promise<GraphqlReply> {
  const res = await fetch(sandbox.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }), signal: init.signal });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as GraphqlReply['body'] };
}

/** The account as the subgraph should answer it with ACCOUNT_FIELDS. */
function expectedAccount(a: SeedFundAccount): unknown {
  return {
    accountNumber: a.accountNumber,
    holder: { idNumber: a.idNumber },
    employer: a.employerCreditCode === null ? null : { creditCode: a.employerCreditCode },
    status: a.status,
    openedAt: a.openedAt,
    monthlyBase: a.monthlyBase,
    contributionRate: a.contributionRate,
    balance: a.balance,
    contributions: a.contributions,
    loans: a.loans.map(({ unitNumber, ...loan }) => ({ ...loan, property: unitNumber === null ? null : { unitNumber } })),
    withdrawals: a.withdrawals,
  };
}

function expectedEmployer(e: SeedFundEmployer): unknown {
  const { creditCode, ...rest } = e;
  return { ...rest, enterprise: { creditCode } };
}

/** A valid citizen identity number that no department knows. */
function unknownIdNumber(n: number): string {
  const first17 = `11010119800101${String(900 + n).padStart(3, '0')}`;
  return first17 + citizenIdCheckChar(first17);
}

/** A valid credit code that no department knows. */
function unknownCreditCode(): string {
  const org = '00000000';
  const body = `91110101${org}${orgCodeCheckChar(org)}`.slice(0, 17);
  return body + creditCodeCheckChar(body);
}

/** A definition without descriptions or locations, printed, so that two SDLs compare by structure. */
function withoutDescriptions(node: DefinitionNode): string {
  return print(visit(node, { enter: (n) => ('description' in n && n.description ? { ...n, description: undefined } : undefined) }));
}

function definitionsByName(document: DocumentNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of document.definitions) {
    if ('name' in d && d.name) out.set(d.name.value, withoutDescriptions(d));
  }
  return out;
}

describe('housing fund sandbox 住房公积金', () => {
  it('declares exactly the contract SDL, descriptions aside', () => {
    const ours = parse(HOUSING_FUND_SDL);
    const contract = parse(CONTRACT_SDL);
    expect(ours.definitions.map(withoutDescriptions)).toEqual(contract.definitions.map(withoutDescriptions));
  });

  it('answers _service { sdl } with the contract types and the federation link', async () => {
    const reply = await graphql('{ _service { sdl } }');
    expect(reply.status).toBe(200);
    const sdl = (reply.body.data!._service as { sdl: string }).sdl;
    const served = parse(sdl);
    const servedTypes = definitionsByName(served);
    for (const [name, printed] of definitionsByName(parse(CONTRACT_SDL))) {
      let got = servedTypes.get(name);
      // The subgraph adds its federation fields to Query.
      if (name === 'Query') got = got?.replace(/\n {2}_entities\(.*\n {2}_service: _Service!/, '');
      expect(`${name}: ${got}`).toBe(`${name}: ${printed}`);
    }
    const links = served.definitions.filter((d) => d.kind === Kind.SCHEMA_EXTENSION).map((d) => print(d));
    expect(links).toContain('extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])');
    expect(sandbox.control.calls.get('_service')).toBe(1);
  });

  it('resolves 50 persons in one _entities call, as the seed has them', async () => {
    const persons = seed.persons.slice(0, 50);
    const accounts = new Map(seed.fundAccounts.map((a) => [a.idNumber, a]));
    const holders = persons.filter((p) => accounts.has(p.idNumber));
    // The sample must hold both kinds for the check to mean something.
    expect(holders.length).toBeGreaterThan(10);
    expect(persons.length - holders.length).toBeGreaterThan(10);

    const reply = await graphql(PERSONS_QUERY, { representations: persons.map((p) => ({ __typename: 'Person', idNumber: p.idNumber })) });
    expect(reply.status).toBe(200);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data!._entities).toEqual(
      persons.map((p) => {
        const account = accounts.get(p.idNumber);
        return { idNumber: p.idNumber, providentFund: account ? expectedAccount(account) : null };
      }),
    );
    expect(sandbox.control.calls.get('_entities')).toBe(1);
    expect(sandbox.control.totalCalls()).toBe(1);
  });

  it('serves accounts of every kind: sealed, closed, with a loan on a registered home', async () => {
    const picks = [
      seed.fundAccounts.find((a) => a.status === 'SEALED'),
      seed.fundAccounts.find((a) => a.status === 'CLOSED'),
      seed.fundAccounts.find((a) => a.loans.some((l) => l.unitNumber !== null)),
    ];
    expect(picks.every((a) => a !== undefined)).toBe(true);
    const reply = await graphql(PERSONS_QUERY, { representations: picks.map((a) => ({ __typename: 'Person', idNumber: a!.idNumber })) });
    expect(reply.body.data!._entities).toEqual(picks.map((a) => ({ idNumber: a!.idNumber, providentFund: expectedAccount(a!) })));
  });

  it('resolves an unknown or malformed person to a Person without an account, not an error', async () => {
    const reply = await graphql(PERSONS_QUERY, {
      representations: [
        { __typename: 'Person', idNumber: unknownIdNumber(1) },
        { __typename: 'Person', idNumber: 'not-an-id' },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data!._entities).toEqual([
      { idNumber: unknownIdNumber(1), providentFund: null },
      { idNumber: 'not-an-id', providentFund: null },
    ]);
  });

  it('answers Query.fundAccount by number, null for an unknown one, and a clear error for a malformed one', async () => {
    const account = seed.fundAccounts.find((a) => a.contributions.length > 0 && a.withdrawals.length > 0)!;
    const query = `query($n: ID!) { fundAccount(accountNumber: $n) { ${ACCOUNT_FIELDS} } }`;
    const found = await graphql(query, { n: account.accountNumber });
    expect(found.body).toEqual({ data: { fundAccount: expectedAccount(account) } });
    expect(sandbox.control.calls.get('fundAccount')).toBe(1);

    const unknown = await graphql(query, { n: '9999999999999999' });
    expect(unknown.body).toEqual({ data: { fundAccount: null } });

    const malformed = await graphql(query, { n: 'ABC' });
    expect(malformed.status).toBe(200);
    expect(malformed.body.data).toEqual({ fundAccount: null });
    expect(malformed.body.errors![0]!.message).toBe('"accountNumber" must be a personal account number: 16 digits (region code and serial)');
    expect(malformed.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers the enterprise side: Enterprise entities, Query.fundEmployer, FundEmployer.enterprise', async () => {
    const withAccount = seed.fundEmployers.slice(0, 3);
    const withoutAccount = seed.enterprises.find((e) => !seed.fundEmployers.some((f) => f.creditCode === e.creditCode))!;
    const codes = [...withAccount.map((e) => e.creditCode), withoutAccount.creditCode, unknownCreditCode()];
    const reply = await graphql(ENTERPRISES_QUERY, { representations: codes.map((creditCode) => ({ __typename: 'Enterprise', creditCode })) });
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data!._entities).toEqual([
      ...withAccount.map((e) => ({ creditCode: e.creditCode, providentFundEmployer: expectedEmployer(e) })),
      { creditCode: withoutAccount.creditCode, providentFundEmployer: null },
      { creditCode: codes[4], providentFundEmployer: null },
    ]);

    const inArrears = seed.fundEmployers.find((e) => e.arrearsMonths > 0)!;
    const one = await graphql(`query($n: ID!) { fundEmployer(employerAccountNumber: $n) { ${EMPLOYER_FIELDS} } }`, { n: inArrears.employerAccountNumber });
    expect(one.body).toEqual({ data: { fundEmployer: expectedEmployer(inArrears) } });
    const none = await graphql(`{ fundEmployer(employerAccountNumber: "99999999999999") { employees } }`);
    expect(none.body).toEqual({ data: { fundEmployer: null } });
    expect(sandbox.control.calls.get('fundEmployer')).toBe(2);
  });

  it('answers 100 accounts asked for by aliases in one request', async () => {
    // The small seed has fewer than 100 accounts: some are asked for twice.
    const accounts = Array.from({ length: 100 }, (_, i) => seed.fundAccounts[i % seed.fundAccounts.length]!);
    const query = `{ ${accounts.map((a, i) => `a${i}: fundAccount(accountNumber: "${a.accountNumber}") { ${ACCOUNT_FIELDS} }`).join(' ')} }`;
    const reply = await graphql(query);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data).toEqual(Object.fromEntries(accounts.map((a, i) => [`a${i}`, expectedAccount(a)])));
    expect(Object.fromEntries(sandbox.control.calls)).toEqual({ fundAccount: 1 });
  });

  it('resolves FundAccount and FundEmployer entities by their keys, null when unknown', async () => {
    const account = seed.fundAccounts[0]!;
    const employer = seed.fundEmployers[0]!;
    const reply = await graphql(
      `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on FundAccount { accountNumber balance } ... on FundEmployer { employerAccountNumber employees } ... on Property { unitNumber } } }`,
      {
        r: [
          { __typename: 'FundAccount', accountNumber: account.accountNumber },
          { __typename: 'FundEmployer', employerAccountNumber: employer.employerAccountNumber },
          { __typename: 'FundAccount', accountNumber: '0000000000000000' },
          { __typename: 'Property', unitNumber: seed.properties[0]!.unitNumber },
        ],
      },
    );
    expect(reply.body).toEqual({
      data: {
        _entities: [
          { __typename: 'FundAccount', accountNumber: account.accountNumber, balance: account.balance },
          { __typename: 'FundEmployer', employerAccountNumber: employer.employerAccountNumber, employees: employer.employees },
          null,
          { __typename: 'Property', unitNumber: seed.properties[0]!.unitNumber },
        ],
      },
    });
  });

  it(`refuses more than ${MAX_REPRESENTATIONS} representations in one call with an error naming the limit`, async () => {
    const representations = seed.persons.slice(0, MAX_REPRESENTATIONS + 1).map((p) => ({ __typename: 'Person', idNumber: p.idNumber }));
    const reply = await graphql(PERSONS_QUERY, { representations });
    expect(reply.status).toBe(200);
    expect(reply.body.data).toBeNull();
    expect(reply.body.errors!.map((e) => e.message)).toEqual([`_entities accepts at most ${MAX_REPRESENTATIONS} representations per call, got ${MAX_REPRESENTATIONS + 1}`]);
    // Exactly the limit is fine.
    const atLimit = await graphql(PERSONS_QUERY, { representations: representations.slice(0, MAX_REPRESENTATIONS) });
    expect(atLimit.body.errors).toBeUndefined();
    expect(atLimit.body.data!._entities).toHaveLength(MAX_REPRESENTATIONS);
  });

  it('refuses a representation without its key or of a type it does not know, naming the position', async () => {
    const missingKey = await graphql(PERSONS_QUERY, { representations: [{ __typename: 'Person', idNumber: seed.persons[0]!.idNumber }, { __typename: 'Person' }] });
    expect(missingKey.body.errors!.map((e) => e.message)).toEqual(['representations[1] (Person) needs "idNumber" as a string']);
    const unknownType = await graphql(PERSONS_QUERY, { representations: [{ __typename: 'Taxpayer', id: 'x' }] });
    expect(unknownType.body.errors![0]!.message).toBe('representations[0] has "__typename" "Taxpayer"; this subgraph resolves Person, Enterprise, Property, FundAccount, FundEmployer');
  });

  it('answers bad requests with a clear error and counts them, never crashing', async () => {
    const post = (body: string, contentType = 'application/json') => fetch(sandbox.url, { method: 'POST', headers: { 'content-type': contentType }, body });
    const notJson = await post('{"query": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ errors: [{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
    const noQuery = await post('{}');
    expect(((await noQuery.json()) as GraphqlReply['body']).errors![0]!.message).toBe('"query" must be a non-empty string holding the GraphQL document');
    const syntax = await post(JSON.stringify({ query: '{ fundAccount(' }));
    expect(syntax.status).toBe(400);
    expect(((await syntax.json()) as GraphqlReply['body']).errors![0]!.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    const invalid = await post(JSON.stringify({ query: '{ fundAccount(accountNumber: "1") { nope } }' }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as GraphqlReply['body']).errors![0]!.message).toMatch(/Cannot query field "nope" on type "FundAccount"/);
    const deep = await post(JSON.stringify({ query: `{ fundAccount(accountNumber: "1") { ${'holder { providentFund { '.repeat(10)}accountNumber${' } }'.repeat(10)} } }` }));
    expect(((await deep.json()) as GraphqlReply['body']).errors![0]!.message).toBe('the query nests deeper than 16 levels');
    const aliases = Array.from({ length: 80 }, (_, i) => `c${i}: contributions { period }`).join(' ');
    const wide = await post(JSON.stringify({ query: `{ _entities(representations: []) { ... on Person { providentFund { ${aliases} } } } }` }));
    expect(((await wide.json()) as GraphqlReply['body']).errors).toEqual([
      { message: 'the query could return more than 250000 values (each list counted at its largest: 100 entities, 36 contributions)', extensions: { code: 'QUERY_TOO_LARGE' } },
    ]);
    const cycle = await post(JSON.stringify({ query: '{ fundAccount(accountNumber: "1") { ...A } } fragment A on FundAccount { ...B } fragment B on FundAccount { ...A }' }));
    expect(cycle.status).toBe(400);
    expect(((await cycle.json()) as GraphqlReply['body']).errors![0]!.message).toMatch(/Cannot spread fragment "A" within itself via "B"/);
    const text = await post('{ _service { sdl } }', 'text/plain');
    expect(text.status).toBe(415);
    const get = await fetch(sandbox.url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const elsewhere = await fetch(new URL('/api', sandbox.url), { method: 'POST', body: '{}' });
    expect(elsewhere.status).toBe(404);
    expect(Object.fromEntries(sandbox.control.calls)).toEqual({ invalid: 4, fundAccount: 3, _entities: 1, unknown: 2 });
    // Deep enough to exhaust the parser's stack here; with a larger stack the depth check refuses it.
    const abyss = await post(JSON.stringify({ query: `{${'a{'.repeat(20_000)}b${'}'.repeat(20_001)}` }));
    expect(abyss.status).toBe(400);
    expect(((await abyss.json()) as GraphqlReply['body']).errors![0]!.message).toMatch(/^the query nests (too deeply to be parsed \(at most 16 levels are served\)|deeper than 16 levels)$/);
    // Still serving.
    expect((await graphql('{ _service { sdl } }')).status).toBe(200);
  });

  describe('faults', () => {
    afterEach(() => sandbox.control.reset());

    it('down: the connection is dropped without a reply, and the call is counted', async () => {
      sandbox.control.setFaults({ mode: 'down' });
      await expect(graphql('{ _service { sdl } }')).rejects.toThrow();
      expect(sandbox.control.calls.get('_service')).toBe(1);
    });

    it('slow: a client with a short timeout gives up long before the reply', async () => {
      // 60 s of delay against a 1 s client timeout: far apart, whatever the machine's load.
      sandbox.control.setFaults({ mode: 'slow', slowMs: 60_000 });
      await expect(graphql('{ _service { sdl } }', undefined, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow(/abort|timeout/i);
      expect(sandbox.control.calls.get('_service')).toBe(1);
    });

    it('malformed: status 200 with a body that is not JSON, so not a GraphQL response', async () => {
      sandbox.control.setFaults({ mode: 'malformed' });
      const res = await fetch(sandbox.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: PERSONS_QUERY, variables: { representations: [{ __typename: 'Person', idNumber: seed.fundAccounts[0]!.idNumber }] } }) });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeGreaterThan(0);
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
      expect(sandbox.control.calls.get('_entities')).toBe(1);
    });

    it('errorRate 1, set through the control route: every call is a 503', async () => {
      const set = await fetch(new URL('/__sandbox/faults', sandbox.url), { method: 'POST', body: '{"errorRate":1}' });
      expect(set.status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(sandbox.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ _service { sdl } }' }) });
        expect(res.status).toBe(503);
        await res.text();
      }
      const calls = (await (await fetch(new URL('/__sandbox/calls', sandbox.url))).json()) as { total: number; byOperation: Record<string, number> };
      expect(calls).toEqual({ total: 3, byOperation: { _service: 3 } });
    });
  });

  it('registers as the housing-fund sandbox module, its settings pointing at its URL', async () => {
    const started = await sandboxModule.start(seed, { port: 0, host: '127.0.0.1' });
    try {
      expect(sandboxModule.id).toBe('housing-fund');
      expect(started.name).toBe('housing-fund');
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
      expect(sandboxModule.settings(started)).toEqual({ url: started.url });
      const res = await fetch(started.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ fundEmployer(employerAccountNumber: "99999999999999") { employees } }' }) });
      expect(await res.json()).toEqual({ data: { fundEmployer: null } });
      expect(started.control.calls.get('fundEmployer')).toBe(1);
    } finally {
      await started.close();
    }
  });
});
