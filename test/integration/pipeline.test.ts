/**
 * The request pipeline's holes, over real HTTP against a signed hub with real sandboxes: every
 * refusal has its status and code, calls no department and leaves exactly one access record (its
 * own, or one increment of its source's aggregate when refused before authentication); typos
 * suggest only what the caller may see; a denial lists at most 50 coordinates; the cost limits
 * stop cyclic, wide, long and huge queries; one deadline bounds a request through slow
 * departments; values that cannot be stored as given are hashed, never lost; the request id is
 * the hub's; transport refusals and floods are aggregated; bad input is a 4xx, never a 5xx; a
 * stopping hub answers 503; and, property-based, 150 random requests leave 150 records' worth.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import * as fc from 'fast-check';
import pino from 'pino';
import { openAuditLogReader, type AuditRecord } from '../../src/audit';
import { PROPERTY_TRANSFER_QUERY, propertyTransferExample } from '../../src/cli/examples';
import { auditSubjectSecret } from '../../src/gateway';
import { startHubServer } from '../../src/http';
import { createRequestSigner, type PrivateJwk, type RequestContext } from '../../src/seal';
import { HANG_DEADLINE_MS } from '../support/deadline';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually } from '../support/redis';

const TRANSFER: RequestContext = { purpose: 'PROPERTY_TRANSFER', caseNumber: 'BDC-PIPE-1', operator: '窗口-测试' };
const AUDIT: RequestContext = { purpose: 'AUDIT', caseNumber: 'SJ-PIPE-1', operator: '审计员-测试' };
const INVESTIGATION: RequestContext = { purpose: 'INVESTIGATION', caseNumber: 'JC-PIPE-1', operator: '稽查-测试' };
const NO_CALLS = { 'real-estate': 0, 'social-security': 0, tax: 0, 'market-regulation': 0, 'housing-fund': 0 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ security: 'signed' });
});
afterAll(async () => {
  await hub?.close();
});
beforeEach(() => hub.resetSandboxes());

/** A reply as the test reads it: status, headers and the JSON body (undefined when not JSON). */
interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** The first error's code. */
  code: string | undefined;
}

/** One request with node:http (fetch refuses some of what these tests send). Resolves with the reply even when the hub stops reading the body early. */
function send(target: TestHub, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Reply> {
  const url = new URL(`${target.url}/graphql`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: options.method ?? 'POST', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, code: body?.errors?.[0]?.extensions?.code });
      });
      res.on('error', reject);
    });
    // The hub may answer (413, 431) and close before it has read all we send: the reply still counts.
    req.on('error', (error) => setTimeout(() => reject(error), 1000));
    req.end(options.body);
  });
}

function jwkOf(consumer: string): PrivateJwk {
  return JSON.parse(readFileSync(hub.gateway.keyStore.privateKeyPath(consumer)!, 'utf8')) as PrivateJwk;
}

/** The body as given (an object is JSON-encoded), signed by `consumer` for `context`. */
function signed(consumer: string, payload: unknown, context: RequestContext = TRANSFER, headers: Record<string, string> = {}, target: TestHub = hub): Promise<Reply> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const authorization = createRequestSigner({ consumerId: consumer, privateJwk: jwkOf(consumer) }).authorization(body, context);
  return send(target, { headers: { 'content-type': 'application/json', authorization, ...headers }, body });
}

/** A signed request of the real-estate centre, for the property transfer. */
const ask = (payload: unknown, headers: Record<string, string> = {}): Promise<Reply> => signed('real-estate-centre', payload, TRANSFER, headers);

function expectNoDepartmentCalled(target: TestHub = hub): void {
  expect(target.calls()).toEqual(NO_CALLS);
}

/** The whole access log, read from its files as `datarun audit` reads it (the auditor's reads over HTTP would add records). */
async function readLog(target: TestHub = hub): Promise<AuditRecord[]> {
  const reader = await openAuditLogReader({ dir: path.join(target.keysDir, 'audit'), subjectKeySecret: auditSubjectSecret(target.keysDir) });
  try {
    const all: AuditRecord[] = [];
    for await (const record of reader.records({})) all.push(record);
    return all;
  } finally {
    await reader.close();
  }
}

/** The one record of a reply (by the hub's `x-request-id`). */
async function recordOf(reply: Reply, target: TestHub = hub): Promise<AuditRecord> {
  const id = reply.headers['x-request-id'];
  const found = (await readLog(target)).filter((r) => r.requestId === id);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** Expects a refused reply: its status and code, no department called, and its own record with this outcome. */
async function expectRefused(reply: Reply, status: number, code: string, outcome: 'FAILED' | 'DENIED' = 'FAILED'): Promise<AuditRecord> {
  expect({ status: reply.status, code: reply.code }).toEqual({ status, code });
  expect(reply.body.data).toBeUndefined();
  expectNoDepartmentCalled();
  const record = await recordOf(reply);
  expect(record).toMatchObject({ outcome, errorCodes: [code] });
  return record;
}

const secondOf = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** Waits for the next second to begin: refusals counted before it cannot share an aggregate with what follows. */
async function nextSecond(): Promise<number> {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  return secondOf(Date.now());
}

/** Aggregate records of one reason whose window starts at or after `fromSecond`. */
function aggregatesOf(records: readonly AuditRecord[], code: string, fromSecond: number): AuditRecord[] {
  return records.filter((r) => r.count !== undefined && r.errorCodes.includes(code) && Date.parse(r.window!.from) >= fromSecond);
}

/** Waits until an aggregate of this reason, since `fromSecond`, from the loopback client, is written. */
async function expectAggregated(code: string, fromSecond: number): Promise<void> {
  let found: AuditRecord | undefined;
  await eventually(async () => (found = aggregatesOf(await readLog(), code, fromSecond)[0]) !== undefined, `the aggregate record of ${code}`);
  expect(found).toMatchObject({ consumer: null, source: '127.0.0.1', outcome: 'DENIED', errorCodes: [code] });
  expect(found!.count).toBeGreaterThanOrEqual(1);
}

const example = () => propertyTransferExample(hub.sandboxes.data);

describe('validation speaks only of what the caller may see', () => {
  it('answers a typo with GRAPHQL_VALIDATION_FAILED and suggests the granted field', async () => {
    const reply = await ask({ query: 'query($id: ID!) { person(idNumber: $id) { nmae } }', variables: { id: example().buyer } });
    await expectRefused(reply, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(reply.body.errors[0].message).toBe('Cannot query field "nmae" on type "Person". Did you mean "name"?');
  });

  it('never suggests a field the consumer may not read', async () => {
    const reply = await signed('tax-bureau', { query: 'query($id: ID!) { person(idNumber: $id) { taxRecord { hasArrears } } }', variables: { id: example().buyer } }, INVESTIGATION);
    await expectRefused(reply, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(reply.body.errors[0].message).toMatch(/^Cannot query field "taxRecord" on type "Person"\./);
    expect(JSON.stringify(reply.body)).not.toContain('taxRecords');
  });
});

describe('a denial', () => {
  it('lists 50 denied coordinates, counts them all, and is recorded with its subjects', async () => {
    const v = example();
    const query = `query($u: ID!, $b: ID!, $s: ID!) {
      person(idNumber: $b) { idNumber name gender birthDate socialInsurance { scheme status insuredSince } taxRecords { kind name taxOffice registeredAt creditRating hasArrears } enterprises { creditCode } }
      enterprise(creditCode: $s) { creditCode name kind status registeredCapital establishedAt address industry licence { licenceNumber issuedAt validUntil scope authority } permits { permitNumber kind issuedAt validUntil authority } penalties { decisionNumber reason amount decidedAt authority } employerAccount { status openedAt employeeCount arrears } }
      property(unitNumber: $u) { certificateNumber address area usage registeredAt mortgages { registrationNumber mortgagee amount startDate endDate status } seizures { seizureNumber court caseNumber startDate endDate status } transfers { transferNumber date price } }
    }`;
    const reply = await signed('auditor', { query, variables: { u: v.unitNumber, b: v.buyer, s: v.seller } }, AUDIT);
    const record = await expectRefused(reply, 403, 'POLICY_DENIED', 'DENIED');
    const { denied, deniedCount } = reply.body.errors[0].extensions;
    expect(denied).toHaveLength(50);
    expect(deniedCount).toBeGreaterThan(50);
    expect(reply.body.errors[0].message).toContain(`and ${deniedCount - 50} more to this consumer for this purpose.`);
    expect(record.consumer).toBe('auditor');
    expect(record.subjects.map((s) => s.kind).sort()).toEqual(['ENTERPRISE', 'PERSON', 'PROPERTY']);
  });
});

describe('the cost limits, before any department is asked', () => {
  const id = '11010519491231002X';
  /** person → properties → owners → owner (on Person) → properties … until the selection is `depth` fields deep. */
  function cyclicQuery(depth: number): string {
    const chain = ['properties { unitNumber certificateNumber address area usage registeredAt', 'owners { share kind', 'owner { __typename ... on Enterprise { creditCode name status } ... on Person { idNumber name gender birthDate'];
    const closers = ['}', '}', '} }'];
    let open = `{ person(idNumber: "${id}") { idNumber name`;
    let close = '} }';
    // person is level 1 and its own fields level 2; each link adds one level.
    for (let link = 0; link < depth - 2; link++) {
      open += ` ${chain[link % 3]}`;
      close = `${closers[link % 3]} ${close}`;
    }
    return `${open} ${close}`;
  }
  const ids = Array.from({ length: 100 }, (_, i) => `"1101051949123${String(i).padStart(4, '0')}X"`).join(', ');
  const document70k = `query($u: ID!) { property(unitNumber: $u) { address } }\n# ${'x'.repeat(70 * 1024)}`;
  const cases: [string, string, string, number][] = [
    ['the cyclic query to depth 16', cyclicQuery(16), 'maxDepth', 16],
    ['31 aliases', `query($u: ID!) { property(unitNumber: $u) { ${Array.from({ length: 31 }, (_, i) => `a${i}: address`).join(' ')} } }`, 'maxAliases', 31],
    ['21 root fields', `{ ${Array.from({ length: 21 }, (_, i) => `p${i}: person(idNumber: "${id}") { name }`).join(' ')} }`, 'maxRootFields', 21],
    ['6000 tokens', `query($u: ID!) { property(unitNumber: $u) { ${'address '.repeat(6000)}} }`, 'maxTokens', 5001],
    ['a 70 KB document', document70k, 'maxDocumentBytes', Buffer.byteLength(document70k)],
    // 100 + 100·10 + 100·10·10 + … along people → properties → owners → owner → properties → owners.
    ['an estimate of 10^6 items', `{ people(idNumbers: [${ids}]) { properties { owners { owner { ... on Person { properties { owners { share } } } } } } } }`, 'maxEstimatedResults', 1_111_100],
  ];

  for (const [what, query, limit, value] of cases) {
    it(`refuses ${what} (${limit}) with QUERY_TOO_COMPLEX and a small reply`, async () => {
      const reply = await ask({ query, variables: { u: example().unitNumber } });
      await expectRefused(reply, 400, 'QUERY_TOO_COMPLEX');
      const { extensions } = reply.body.errors[0];
      expect(extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit, value });
      expect(extensions.value).toBeGreaterThan(extensions.max);
      expect(JSON.stringify(reply.body).length).toBeLessThan(1024);
    });
  }

  it('builds the cyclic query as the README describes it: about 1.3 KB', () => {
    const query = cyclicQuery(16);
    expect(query.length).toBeGreaterThan(1000);
    expect(query.length).toBeLessThan(1600);
  });
});

describe('one deadline per request', () => {
  it('ends a request through two levels of slow departments at its deadline, long before the connector timeout', async () => {
    const own = await startTestHub({ security: 'signed', timeoutMs: 30_000, requestDeadlineMs: 1000 });
    try {
      for (const department of ['real-estate', 'tax'] as const) own.sandboxes.sandboxes[department]!.control.setFaults({ mode: 'slow', slowMs: 60_000 });
      const started = Date.now();
      const reply = await own.clientFor('real-estate-centre').query<any>(PROPERTY_TRANSFER_QUERY, propertyTransferExample(own.sandboxes.data), TRANSFER);
      // Far below the 30 s connector timeout: only the 1 s deadline can have ended it.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(reply.status).toBe(200);
      const timedOut = (reply.errors ?? []).filter((e) => e.extensions?.code === 'CONNECTOR_TIMEOUT');
      expect(new Set(timedOut.map((e) => e.extensions!.connector))).toEqual(new Set(['real-estate', 'tax']));
      const [record] = (await readLog(own)).filter((r) => r.caseNumber === TRANSFER.caseNumber);
      expect(['PARTIAL', 'FAILED']).toContain(record!.outcome);
      expect(record!.errorCodes).toContain('CONNECTOR_TIMEOUT');
    } finally {
      await own.close();
    }
  });
});

describe('values that cannot be stored as given', () => {
  const query = 'query A($u: ID!) { property(unitNumber: $u) { address } }';

  it('hashes an operationName of 500 000 characters and refuses the request with one record', async () => {
    const reply = await ask({ query, variables: { u: example().unitNumber }, operationName: 'B'.repeat(500_000) });
    const record = await expectRefused(reply, 400, 'OPERATION_RESOLUTION_FAILURE');
    expect(record.hashed).toContain('operationName');
    expect(record.operationName).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses an operationName holding a lone surrogate, and hashes it in the record', async () => {
    const body = JSON.stringify({ query, variables: { u: example().unitNumber } }).replace(/}$/, ',"operationName":"\\ud800"}');
    const reply = await ask(body);
    const record = await expectRefused(reply, 400, 'BAD_REQUEST');
    expect(reply.body.errors[0].message).toBe('"operationName" is not well-formed Unicode (it holds a lone surrogate).');
    expect(record.hashed).toContain('operationName');
  });

  it('serves an empty operationName with a one-operation document, recorded as anonymous', async () => {
    const reply = await ask({ query, variables: { u: example().unitNumber }, operationName: '' });
    expect(reply.status).toBe(200);
    expect(reply.body.data.property.address).toEqual(expect.any(String));
    expect(await recordOf(reply)).toMatchObject({ outcome: 'GRANTED', operationName: null, hashed: [] });
  });

  it('keeps a long x-request-id as the correlation id: as given up to 256 characters, hashed beyond, never echoed', async () => {
    for (const [length, hashed] of [
      [200, false],
      [300, true],
    ] as const) {
      const correlation = 'r'.repeat(length);
      const reply = await ask({ query, variables: { u: example().unitNumber } }, { 'x-request-id': correlation });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-correlation-id']).toBeUndefined();
      const record = await recordOf(reply);
      expect(record.correlationId).toBe(hashed ? `sha256:${createHash('sha256').update(correlation).digest('hex')}` : correlation);
      expect(record.hashed!.includes('correlationId')).toBe(hashed);
    }
  });
});

describe('the request id', () => {
  it('is made by the hub; the client’s id comes back as x-correlation-id and is kept in the record; the receipt is version 1', async () => {
    const context = { ...TRANSFER, caseNumber: 'BDC-PIPE-REQUEST-ID' };
    const reply = await signed('real-estate-centre', { query: 'query($u: ID!) { property(unitNumber: $u) { address } }', variables: { u: example().unitNumber } }, context, { 'x-request-id': 'client-42.a:b' });
    expect(reply.status).toBe(200);
    const requestId = reply.headers['x-request-id'] as string;
    expect(requestId).toMatch(UUID);
    expect(reply.headers['x-correlation-id']).toBe('client-42.a:b');

    // As the auditor reads it.
    const read = await hub.clientFor('auditor').query<any>('query($f: AccessLogFilter) { accessLog(filter: $f) { edges { node { requestId correlationId source outcome } } } }', { f: { caseNumber: context.caseNumber } }, AUDIT);
    expect(read.data.accessLog.edges.map((e: any) => e.node)).toEqual([{ requestId, correlationId: 'client-42.a:b', source: '127.0.0.1', outcome: 'GRANTED' }]);

    const payload = JSON.parse(Buffer.from((reply.body.extensions.receipt as string).split('.')[1]!, 'base64url').toString('utf8'));
    expect(payload).toMatchObject({ ver: 1, requestId });
  });
});

describe('transport refusals, recorded through the aggregate', () => {
  const unsigned = JSON.stringify({ query: '{ __typename }' });
  const cases: [string, number, string, () => Promise<Reply>][] = [
    ['GET /graphql', 405, 'METHOD_NOT_ALLOWED', () => send(hub, { method: 'GET' })],
    ['a body over 1 MiB', 413, 'PAYLOAD_TOO_LARGE', () => send(hub, { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(1024 * 1024 + 1, 0x20) })],
    ['a text/plain body', 415, 'UNSUPPORTED_MEDIA_TYPE', () => send(hub, { headers: { 'content-type': 'text/plain' }, body: unsigned })],
    ['a body in latin-1', 415, 'UNSUPPORTED_MEDIA_TYPE', () => send(hub, { headers: { 'content-type': 'application/json; charset="ISO-8859-1"' }, body: unsigned })],
    ['a gzip-encoded body', 415, 'UNSUPPORTED_MEDIA_TYPE', () => send(hub, { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: unsigned })],
    ['Accept: text/html', 406, 'NOT_ACCEPTABLE', () => send(hub, { headers: { 'content-type': 'application/json', accept: 'text/html' }, body: unsigned })],
    ['headers over 64 KiB', 431, 'HEADERS_TOO_LARGE', () => send(hub, { headers: { 'content-type': 'application/json', 'x-padding': 'p'.repeat(70 * 1024) }, body: unsigned })],
  ];

  for (const [what, status, code, request] of cases) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      const since = secondOf(Date.now());
      const reply = await request();
      expect({ status: reply.status, code: reply.code }).toEqual({ status, code });
      if (code === 'METHOD_NOT_ALLOWED') expect(reply.headers.allow).toBe('POST');
      expectNoDepartmentCalled();
      await expectAggregated(code, since);
    });
  }
});

describe('a flood of unsigned requests', () => {
  it('is refused 300 times and written as one aggregate per second whose counts add up to 300', async () => {
    const before = (await readLog()).length;
    const since = await nextSecond();
    const body = JSON.stringify({ query: '{ __typename }' });
    const replies: Reply[] = [];
    for (let batch = 0; batch < 10; batch++) {
      replies.push(...(await Promise.all(Array.from({ length: 30 }, () => send(hub, { headers: { 'content-type': 'application/json' }, body })))));
    }
    const seconds = (secondOf(Date.now()) - since) / 1000 + 1;
    expect(replies.every((r) => r.status === 401 && r.code === 'UNAUTHENTICATED')).toBe(true);
    expectNoDepartmentCalled();

    let flood: AuditRecord[] = [];
    const counted = () => flood.reduce((n, r) => n + r.count!, 0);
    await eventually(async () => {
      flood = aggregatesOf(await readLog(), 'UNAUTHENTICATED', since);
      return counted() >= 300;
    }, 'the aggregates of the flood');
    expect(counted()).toBe(300);
    expect(flood.length).toBeLessThanOrEqual(seconds);
    expect(flood.every((r) => r.source === '127.0.0.1' && r.consumer === null && r.outcome === 'DENIED')).toBe(true);
    // Nothing else: the log grew by these aggregates (and at most the late ones of earlier tests).
    const added = (await readLog()).slice(before);
    expect(added.filter((r) => r.count === undefined)).toEqual([]);
  });
});

describe('input problems are 4xx, never 500', () => {
  const typename = '{ __typename }';
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const nested = (depth: number): unknown => (depth === 0 ? 'x' : [nested(depth - 1)]);
  const apq = (hash: string, query?: string) => ({ ...(query !== undefined ? { query } : {}), extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
  const cases: [string, () => Promise<Reply>, number, string[]][] = [
    ['variables nested 600 levels', () => ask({ query: 'query($v: [String]) { __typename }', variables: { v: nested(600) } }), 400, ['BAD_REQUEST']],
    ['a document of 100 000 "{"', () => ask({ query: '{'.repeat(100_000) }), 400, ['QUERY_TOO_COMPLEX', 'GRAPHQL_PARSE_FAILED']],
    ['a document of 4 000 "{"', () => ask({ query: '{'.repeat(4000) }), 400, ['QUERY_TOO_COMPLEX', 'GRAPHQL_PARSE_FAILED']],
    ['a persisted query whose hash does not match', () => ask(apq(sha('{ other }'), typename)), 400, ['PERSISTED_QUERY_HASH_MISMATCH']],
    ['an unknown persisted-query hash', () => ask(apq(sha('{ __typename unknown: __typename }'))), 400, ['PERSISTED_QUERY_NOT_FOUND']],
    ['a mutation', () => ask({ query: 'mutation { person(idNumber: "1") { name } }' }), 400, ['GRAPHQL_VALIDATION_FAILED']],
    ['two operations and no operationName', () => ask({ query: 'query A { __typename } query B { __typename }' }), 400, ['OPERATION_RESOLUTION_FAILURE']],
    ['a JSON array', () => ask('[{"query":"{ __typename }"}]'), 400, ['BAD_REQUEST']],
    ['a body that is not JSON', () => ask('{"query":'), 400, ['BAD_REQUEST']],
  ];

  for (const [what, request, status, codes] of cases) {
    it(`answers ${what} with ${status} ${codes.join(' or ')}`, async () => {
      const reply = await request();
      expect(reply.status).toBe(status);
      expect(codes).toContain(reply.code);
      await expectRefused(reply, status, reply.code!);
    });
  }

  it('serves a persisted query by its hash once it has been registered', async () => {
    const query = 'query($u: ID!) { property(unitNumber: $u) { area } }';
    const variables = { u: example().unitNumber };
    await expectRefused(await ask({ ...apq(sha(query)), variables }), 400, 'PERSISTED_QUERY_NOT_FOUND');
    expect((await ask({ ...apq(sha(query), query), variables })).status).toBe(200);
    const byHash = await ask({ ...apq(sha(query)), variables });
    expect(byHash.status).toBe(200);
    expect(byHash.body.data.property.area).toEqual(expect.any(Number));
  });

  for (const [consumer, context, type] of [
    ['auditor', AUDIT, 'TaxPayment'],
    ['tax-bureau', INVESTIGATION, 'SocialInsurance'],
  ] as const) {
    it(`denies ${consumer} introspection of ${type}, a type outside its view, with 403 POLICY_DENIED`, async () => {
      const reply = await signed(consumer, { query: `{ __type(name: "${type}") { name fields { name } } }` }, context);
      const record = await expectRefused(reply, 403, 'POLICY_DENIED', 'DENIED');
      expect(reply.body.errors[0].extensions.denied).toEqual([`__type(name: "${type}")`]);
      expect(record.consumer).toBe(consumer);
    });
  }
});

describe('shutdown', () => {
  it('finishes the request in flight, answers a request that arrives while stopping with 503 SHUTTING_DOWN, and refuses new connections', async () => {
    // A server of its own over this gateway, with a grace period far longer than the slow call it lets finish.
    const server = await startHubServer({ gateway: hub.gateway, logger: pino({ level: 'silent' }), port: 0, shutdownGraceMs: HANG_DEADLINE_MS });
    const { port } = new URL(server.url);
    hub.sandboxes.sandboxes['real-estate']!.control.setFaults({ mode: 'slow', slowMs: 1500 });
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const request = (payload: unknown): string => {
      const body = JSON.stringify(payload);
      const authorization = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(body, TRANSFER);
      return `POST /graphql HTTP/1.1\r\nhost: hub\r\ncontent-type: application/json\r\nauthorization: ${authorization}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    try {
      const since = secondOf(Date.now());
      socket.write(request({ query: 'query($u: ID!) { property(unitNumber: $u) { address } }', variables: { u: example().unitNumber } }));
      await eventually(() => hub.calls()['real-estate']! > 0, 'the slow request to reach its department');
      const closed = server.close();
      // The listener is closed at once; the open connection still carries a request.
      await expect(new Promise((resolve, reject) => net.connect(Number(port), '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      socket.write(request({ query: '{ __typename }' }));
      await closed;
      await ended;
      const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      expect(statuses).toEqual([200, 503]);
      expect(received).toContain('"code":"SHUTTING_DOWN"');
      await expectAggregated('SHUTTING_DOWN', since);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe('shutdown while a body is still arriving', () => {
  it('counts the request as in flight from its headers: the grace period waits for its body, and it is served', async () => {
    const server = await startHubServer({ gateway: hub.gateway, logger: pino({ level: 'silent' }), port: 0, shutdownGraceMs: HANG_DEADLINE_MS });
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    try {
      const body = JSON.stringify({ query: '{ __typename }' });
      const authorization = createRequestSigner({ consumerId: 'real-estate-centre', privateJwk: jwkOf('real-estate-centre') }).authorization(body, TRANSFER);
      const headersRead = new Promise<void>((resolve) => server.server.once('request', () => resolve()));
      socket.write(`POST /graphql HTTP/1.1\r\nhost: hub\r\ncontent-type: application/json\r\nauthorization: ${authorization}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`);
      await headersRead;
      let closedYet = false;
      const closed = server.close().then(() => (closedYet = true));
      await new Promise((r) => setTimeout(r, 200));
      // Still waiting for the request whose body has not all arrived: the grace period is not cut short.
      expect(closedYet).toBe(false);
      socket.write(body.slice(5));
      await closed;
      await ended;
      expect([...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200]);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe('random requests, property-based', () => {
  const CONSUMERS = ['real-estate-centre', 'tax-bureau', 'civil-affairs', 'one-window-hall', 'auditor'];
  const PURPOSES = ['PROPERTY_TRANSFER', 'INVESTIGATION', 'LIVING_ALLOWANCE', 'AUDIT', 'NO_SUCH_PURPOSE'];
  const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019._-:/+= '.split('')), maxLength: 80 });

  /** A random body: bytes, JSON of any shape, or a GraphQL request with random parts. */
  function bodies(): fc.Arbitrary<string | Buffer> {
    const v = example();
    const documents = fc.oneof(
      fc.constantFrom(
        PROPERTY_TRANSFER_QUERY,
        `{ person(idNumber: "${v.buyer}") { name nmae } }`,
        `query A { property(unitNumber: "${v.unitNumber}") { address } } query B { __typename }`,
        '{ __schema { types { name } } }',
        `{ __type(name: "TaxPayment") { name } }`,
        'mutation { x }',
        '{'.repeat(300),
      ),
      fc.string({ maxLength: 200 }),
    );
    const request = fc.record(
      { query: documents, variables: fc.oneof(fc.constant({ unitNumber: v.unitNumber, seller: v.seller, buyer: v.buyer }), fc.jsonValue({ maxDepth: 4 })), operationName: fc.oneof(fc.constantFrom('PropertyTransfer', 'A', 'B', ''), fc.string({ unit: 'binary', maxLength: 20 })) },
      { requiredKeys: ['query'] },
    );
    return fc.oneof({ weight: 3, arbitrary: request.map((r) => JSON.stringify(r)) }, fc.json({ maxDepth: 3 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)));
  }

  /** A random Authorization: none, garbage, or a token signed by a real key, for the body or another. */
  const authorizations = fc.oneof(
    fc.constant(undefined),
    printable.map((s) => `DatarunRequest ${s}`),
    fc.record({ consumer: fc.constantFrom(...CONSUMERS), purpose: fc.constantFrom(...PURPOSES), forBody: fc.boolean() }),
  );

  it('leaves one record or one aggregate increment per request, and never a 5xx', async () => {
    const runs = 150;
    const since = await nextSecond();
    // Every record of earlier tests is written by now, but for aggregates of earlier seconds (told apart by their window).
    const lastSeq = (await readLog()).reduce((n, r) => Math.max(n, r.seq), 0);
    let sent = 0;
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(bodies(), authorizations, fc.constantFrom('application/json', 'application/json', 'text/plain'), fc.option(printable), async (body, auth, contentType, correlation) => {
        const headers: Record<string, string> = { 'content-type': contentType, ...(correlation ? { 'x-request-id': correlation } : {}) };
        if (typeof auth === 'string') headers.authorization = auth;
        else if (auth) headers.authorization = createRequestSigner({ consumerId: auth.consumer, privateJwk: jwkOf(auth.consumer) }).authorization(auth.forBody ? body : 'another body', { purpose: auth.purpose, caseNumber: 'PBT-1', operator: 'op' });
        const reply = await send(hub, { headers, body });
        sent++;
        statuses.push(reply.status);
        expect(reply.status).toBeLessThan(500);
      }),
      { numRuns: runs, endOnFailure: true },
    );
    expect(sent).toBe(runs);

    // Every individual record since the run began, plus every aggregate count of its seconds.
    let total = 0;
    await eventually(async () => {
      const records = (await readLog()).filter((r) => r.seq > lastSeq);
      const individual = records.filter((r) => r.count === undefined).length;
      const aggregated = records.filter((r) => r.count !== undefined && Date.parse(r.window!.from) >= since).reduce((n, r) => n + r.count!, 0);
      total = individual + aggregated;
      return total >= runs;
    }, 'the records of the random requests');
    expect(total).toBe(runs);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
