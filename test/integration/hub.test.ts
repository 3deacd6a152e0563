import { LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY, livingAllowanceExample, propertyTransferExample } from '../../src/cli/examples';
import { canonicalLivingAllowance, expectedLivingAllowance, expectedPropertyTransfer } from '../support/expected';
import { startTestHub, type TestHub } from '../support/hub';

/** The hub's department timeout: generous, so a busy machine cannot time out a healthy department; far below the slow fault's delay. */
const TIMEOUT_MS = 3000;
const SLOW_MS = 30_000;
let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ timeoutMs: TIMEOUT_MS });
});
afterAll(async () => {
  await hub?.close();
});
beforeEach(() => hub.resetSandboxes());

/** Every identifier and name of the seed: none may appear in an error message. */
function personalData(): string[] {
  const d = hub.sandboxes.data;
  return [...d.persons.flatMap((p) => [p.idNumber, p.name]), ...d.enterprises.flatMap((e) => [e.creditCode, e.name]), ...d.properties.map((p) => p.unitNumber)];
}

function expectNoPersonalData(errors: { message: string; extensions?: unknown }[] | undefined): void {
  const text = JSON.stringify(errors ?? []);
  const leaked = personalData().filter((s) => text.includes(s));
  expect(leaked).toEqual([]);
}

describe('the worked queries over HTTP', () => {
  it('answers the property-transfer query with exactly what the seed put in the four departments', async () => {
    const variables = propertyTransferExample(hub.sandboxes.data);
    const reply = await hub.query(PROPERTY_TRANSFER_QUERY, variables);
    expect(reply.status).toBe(200);
    expect(reply.errors).toBeUndefined();
    expect(reply.data).toEqual(expectedPropertyTransfer(hub.sandboxes.data, variables));
    expect(reply.data.buyer.taxRecords.payments.some((p: any) => p.property?.unitNumber === variables.unitNumber)).toBe(true);
  });

  it('answers the living-allowance query for every family member with what the seed put in', async () => {
    const { family } = livingAllowanceExample(hub.sandboxes.data);
    expect(family.length).toBeGreaterThanOrEqual(3);
    const reply = await hub.query(LIVING_ALLOWANCE_QUERY, { family });
    expect(reply.errors).toBeUndefined();
    expect(canonicalLivingAllowance(reply.data.people)).toEqual(expectedLivingAllowance(hub.sandboxes.data, family));
  });

  it('sends its own request id on every reply, and echoes a well-formed client id as the correlation id', async () => {
    const mine = await hub.query('{ __typename }', undefined, { 'x-request-id': 'case-2026-0001' });
    expect(mine.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.headers.get('x-correlation-id')).toBe('case-2026-0001');
    const generated = await hub.query('{ __typename }', undefined, { 'x-request-id': 'bad id with spaces' });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get('x-request-id')).not.toBe(mine.headers.get('x-request-id'));
    expect(generated.headers.get('x-correlation-id')).toBeNull();
  });
});

describe('batching', () => {
  it('makes at most one call per department per nesting level for 50 people', async () => {
    const ids = hub.sandboxes.data.persons.slice(0, 50).map((p) => p.idNumber);
    const reply = await hub.query(
      `query($ids: [ID!]!) { people(idNumbers: $ids) {
          idNumber name
          socialInsurance { scheme }
          properties { unitNumber mortgages { status } deedTaxPayments { amount } }
          taxRecords { hasArrears }
          enterprises { name employerAccount { employeeCount } }
      } }`,
      { ids },
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data.people).toHaveLength(50);
    // level 1: one call each; level 2: deed tax (tax) under properties, employer accounts (social security) under enterprises.
    expect(hub.calls()).toEqual({ 'real-estate': 1, 'social-security': 2, tax: 2, 'market-regulation': 1, 'housing-fund': 0 });
  });
});

describe('sandbox control routes of the embedded mode', () => {
  it('report the calls per department and inject a fault by name', async () => {
    await fetch(`${hub.operatorUrl}/__sandbox/reset`, { method: 'POST' });
    const ids = hub.sandboxes.data.persons.slice(0, 50).map((p) => p.idNumber);
    await hub.query('query($ids: [ID!]!) { people(idNumbers: $ids) { name taxRecords { hasArrears } } }', { ids });
    const calls = (await (await fetch(`${hub.operatorUrl}/__sandbox/calls`)).json()) as Record<string, { total: number; byOperation: Record<string, number> }>;
    // The hub's change-feed polls are counted too (under changes.list): the query's own calls are the rest.
    expect(Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v.total - (v.byOperation['changes.list'] ?? 0)]))).toEqual({ 'real-estate': 0, 'social-security': 1, tax: 1, 'market-regulation': 0, 'housing-fund': 0 });

    const set = await fetch(`${hub.operatorUrl}/__sandbox/faults/tax`, { method: 'POST', body: '{"mode":"down"}' });
    expect(((await set.json()) as { mode: string }).mode).toBe('down');
    const reply = await hub.query('query($id: ID!) { person(idNumber: $id) { taxRecords { hasArrears } } }', { id: ids[0] });
    expect(reply.errors![0]!.extensions).toMatchObject({ code: 'CONNECTOR_UNAVAILABLE', connector: 'tax' });

    const bad = await fetch(`${hub.operatorUrl}/__sandbox/faults/tax`, { method: 'POST', body: '{"mode":"sideways"}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'fault mode must be none, down, slow or malformed, but got: sideways' });
    expect((await fetch(`${hub.operatorUrl}/__sandbox/faults/weather`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('identifiers are validated before any department is asked', () => {
  it('rejects a citizen identity number with a wrong check character', async () => {
    const good = hub.sandboxes.data.persons[0]!.idNumber;
    const bad = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
    const reply = await hub.query('query($id: ID!) { person(idNumber: $id) { name properties { address } } }', { id: bad });
    expect(reply.data).toEqual({ person: null });
    expect(reply.errors).toHaveLength(1);
    expect(reply.errors![0]).toMatchObject({ message: 'Argument "idNumber" check character does not match (GB 11643 MOD 11-2).', extensions: { code: 'BAD_USER_INPUT', argument: 'idNumber' } });
    expect(hub.calls()).toEqual({ 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 });
  });

  it('names the position of a bad identifier in a list, and a list that is too long', async () => {
    const ids = hub.sandboxes.data.persons.slice(0, 3).map((p) => p.idNumber);
    const reply = await hub.query('query($ids: [ID!]!) { people(idNumbers: $ids) { name } }', { ids: [ids[0], '12345', ids[2]] });
    expect(reply.errors![0]).toMatchObject({ message: 'Argument "idNumbers[1]" must be 18 characters, got 5.', extensions: { code: 'BAD_USER_INPUT' } });
    const many = await hub.query('query($ids: [ID!]!) { people(idNumbers: $ids) { name } }', { ids: Array.from({ length: 101 }, () => ids[0]) });
    expect(many.errors![0]).toMatchObject({ message: 'Argument "idNumbers" takes at most 100 identifiers, got 101.', extensions: { code: 'BAD_USER_INPUT' } });
    expect(hub.calls()).toEqual({ 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 });
  });

  it('rejects a malformed credit code and unit number', async () => {
    const reply = await hub.query('{ enterprise(creditCode: "91350100M000100Y44") { name } property(unitNumber: "370811004012XX44287F90612652") { address } }');
    expect(reply.errors!.map((e) => [e.extensions?.code, e.message]).sort()).toEqual([
      ['BAD_USER_INPUT', 'Argument "creditCode" check character does not match (GB 32100).'],
      ['BAD_USER_INPUT', 'Argument "unitNumber" characters 13 and 14 must be a parcel feature code such as GB.'],
    ]);
  });
});

describe('malformed requests', () => {
  it('answers a body that is not JSON with 400 and a message', async () => {
    const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers a query that does not parse with GRAPHQL_PARSE_FAILED', async () => {
    const reply = await hub.query('{ person(idNumber: ');
    expect(reply.status).toBe(400);
    expect(reply.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('refuses GET on /graphql and answers unknown routes with 404', async () => {
    expect((await fetch(`${hub.url}/graphql?query={__typename}`)).status).toBe(405);
    expect((await fetch(`${hub.url}/nowhere`)).status).toBe(404);
  });

  it('routes by the request target\'s own path: "//graphql" and "//host/console" are unknown paths, not a host and a route', async () => {
    for (const target of ['//graphql', '//evil.example/graphql', '//x/console']) {
      const res = await fetch(`${hub.url}${target}`);
      expect([target, res.status]).toEqual([target, 404]);
      expect(await res.json()).toEqual({ error: `No route for GET ${target}` });
    }
    const post = await fetch(`${hub.url}//evil.example/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(post.status).toBe(404);
  });
});

describe('health and readiness', () => {
  it('reports liveness, and readiness per connector', async () => {
    expect(await (await fetch(`${hub.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${hub.operatorUrl}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { ready: boolean; connectors: { connector: string; ok: boolean }[] };
    expect(body.connectors.map((c) => [c.connector, c.ok]).sort()).toEqual(Object.keys(hub.sandboxes.sandboxes).sort().map((id) => [id, true]));
  });

  it('stays ready while a department is down, reporting it (one department down must not take every instance out of rotation)', async () => {
    hub.sandboxes.sandboxes.tax!.control.setFaults({ mode: 'down' });
    const ready = await fetch(`${hub.operatorUrl}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { ready: boolean; degraded: boolean; departments: { down: string[] }; connectors: { connector: string; ok: boolean }[] };
    expect(body).toMatchObject({ ready: true, degraded: true, departments: { down: ['tax'] } });
    expect(body.connectors.find((c) => c.connector === 'tax')!.ok).toBe(false);
  });
});

describe('partial failure', () => {
  const FULL_QUERY = `query($id: ID!) { person(idNumber: $id) {
    idNumber name socialInsurance { scheme } properties { unitNumber } taxRecords { taxpayerId } enterprises { creditCode }
  } }`;
  const FIELD_OF = { 'social-security': 'socialInsurance', 'real-estate': 'properties', tax: 'taxRecords', 'market-regulation': 'enterprises' } as const;

  function subject(): string {
    // A person with properties and enterprises, so every department has something to say.
    const d = hub.sandboxes.data;
    return d.enterprises.find((e) => d.properties.some((p) => p.owners.some((o) => o.ownerId === e.legalRepIdNumber)) && d.taxpayers.some((t) => t.taxpayerId === e.legalRepIdNumber))!.legalRepIdNumber;
  }

  const cases = [
    ['down', { mode: 'down' }, 'CONNECTOR_UNAVAILABLE'],
    ['answering errors', { errorRate: 1 }, 'CONNECTOR_UNAVAILABLE'],
    ['slow', { mode: 'slow', slowMs: SLOW_MS }, 'CONNECTOR_TIMEOUT'],
    ['replying garbage', { mode: 'malformed' }, 'UPSTREAM_INVALID_RESPONSE'],
  ] as const;

  for (const department of ['real-estate', 'social-security', 'tax', 'market-regulation'] as const) {
    for (const [label, faults, code] of cases) {
      it(`gives null and ${code} for ${department} when it is ${label}, and the other departments' data in full`, async () => {
        const id = subject();
        const healthy = await hub.query(FULL_QUERY, { id });
        expect(healthy.errors).toBeUndefined();
        hub.sandboxes.sandboxes[department]!.control.setFaults(faults);
        const started = performance.now();
        const reply = await hub.query(FULL_QUERY, { id });
        const elapsed = performance.now() - started;
        hub.sandboxes.sandboxes[department]!.control.reset();

        const field = FIELD_OF[department];
        expect(reply.status).toBe(200);
        expect(reply.data.person[field]).toBeNull();
        if (department === 'social-security') expect(reply.data.person.name).toBeNull();
        const expected = { ...healthy.data.person, [field]: null, ...(department === 'social-security' ? { name: null } : {}) };
        expect(reply.data.person).toEqual(expected);
        expect(reply.errors!.length).toBeGreaterThan(0);
        for (const error of reply.errors!) expect(error.extensions).toMatchObject({ code, connector: department });
        expectNoPersonalData(reply.errors);
        // The request ends on the connector timeout, never waiting for the slow department (a bound that only catches a hang).
        expect(elapsed).toBeLessThan(SLOW_MS / 2);
      });
    }
  }
});
