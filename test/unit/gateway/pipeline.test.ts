/**
 * The request pipeline in-process, over the real schema (stub resolvers that count their calls),
 * the demo sharing policy and fakes for the verifier, rate limiter, access log and receipts: the
 * order of the stages, what each refuses with which code, and, property-based, that every request
 * leaves exactly one record or one aggregate increment and that bad input never gets a 5xx code.
 */
import { createHash } from 'node:crypto';
import * as fc from 'fast-check';
import { getNamedType, isLeafType, isObjectType, type GraphQLObjectType } from 'graphql';
import type { AuditLog, AuditRecordInput } from '../../../src/audit';
import { LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY } from '../../../src/cli/examples';
import { createPipeline, type HubReply, type HubRequest, type PipelineOptions } from '../../../src/gateway/pipeline';
import { errorInfo } from '../../../src/sdk';
import { UnauthenticatedError, type ReceiptSigner, type RequestVerifier, type VerifiedRequest } from '../../../src/seal';
import { ReplayGuardUnavailableError } from '../../../src/state';
import { demoEngine, fakeConsent, stubSchema } from '../policy/helpers';

const { schema, calls } = stubSchema();
const policy = demoEngine(schema);

/** Tokens of the fake verifier: `as:<consumer>:<purpose>[:<id>]` (tests write them with spaces); anything else is refused. */
function fakeVerifier(seen = new Set<string>(), guard: { down?: boolean } = {}): RequestVerifier {
  const authenticate = (token: string | undefined): VerifiedRequest => {
    const m = /^as:([a-z-]+):([A-Z_]+)(?::(\S+))?$/.exec(token ?? '');
    if (!m) throw new UnauthenticatedError(token ? 'MALFORMED' : 'MISSING', token ? 'request token is malformed' : 'request token is missing');
    const [, consumer, purpose, jti] = m;
    return { consumer: consumer!, roles: ['consumer'], keyId: 'k', claims: { iss: consumer!, aud: 'hub', iat: 0, exp: 1, jti: jti ?? `${Math.random()}`, bh: '', purpose: purpose!, case: 'C-1', operator: 'op' } };
  };
  return {
    authenticate,
    async remember(verified) {
      if (guard.down) throw new ReplayGuardUnavailableError(new Error('connection lost'));
      if (seen.has(verified.claims.jti)) throw new UnauthenticatedError('REPLAYED', 'request token has already been used');
      seen.add(verified.claims.jti);
    },
    async verify(token, body) {
      const v = authenticate(token);
      await this.remember(v);
      void body;
      return v;
    },
  };
}

interface Harness {
  execute(request: HubRequest): Promise<HubReply>;
  records: AuditRecordInput[];
  aggregated: { source: string; reason: string }[];
  limited: Set<string>;
}

function harness(overrides: Partial<PipelineOptions> & { auditDown?: boolean; guard?: { down?: boolean } } = {}): Harness {
  const records: AuditRecordInput[] = [];
  const aggregated: { source: string; reason: string }[] = [];
  const limited = new Set<string>();
  const audit = {
    async append(record: AuditRecordInput) {
      if (overrides.auditDown) throw Object.assign(new Error('disk full'), { code: 'AUDIT_UNAVAILABLE' });
      records.push(record);
      return { seq: records.length };
    },
    treeHead: () => null,
  } as unknown as AuditLog;
  const receipts: ReceiptSigner = { signReceipt: (input) => `receipt:${input.requestId}:${input.auditSeq}` } as ReceiptSigner;
  const pipeline = createPipeline({
    schema,
    security: 'signed',
    verifier: fakeVerifier(new Set(), overrides.guard),
    rateLimiter: { take: async (consumer) => (limited.has(consumer) ? { allowed: false, retryAfterMs: 2500 } : { allowed: true }) },
    policy,
    receipts,
    audit,
    refusals: { refuse: (source, reason) => void aggregated.push({ source, reason }), flush: async () => undefined, close: async () => undefined } as PipelineOptions['refusals'],
    cacheOf: () => undefined,
    logger: { warn: () => undefined, error: () => undefined },
    ...overrides,
  });
  return { execute: (r) => pipeline.execute(r), records, aggregated, limited };
}

const json = (body: unknown): Buffer => Buffer.from(JSON.stringify(body));
const request = (body: unknown, token = 'as real-estate-centre PROPERTY_TRANSFER', extra: Partial<HubRequest> = {}): HubRequest => ({
  body: Buffer.isBuffer(body) ? body : json(body),
  contentType: 'application/json',
  authorization: `DatarunRequest ${token.replaceAll(' ', ':')}`,
  peer: { address: '192.0.2.7' },
  ...extra,
});
const TRANSFER = { query: PROPERTY_TRANSFER_QUERY, variables: { unitNumber: 'U1', seller: 'E1', buyer: 'P1' } };
const codeOf = (reply: HubReply): unknown => (reply.body.errors?.[0] as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;

beforeEach(() => {
  calls.length = 0;
});

describe('the stages, in order', () => {
  it('serves an allowed query with one record and a receipt carrying its sequence number', async () => {
    const h = harness();
    const reply = await h.execute(request(TRANSFER, undefined, { correlationId: 'client-42' }));
    expect(reply.code).toBeNull();
    expect(reply.body.errors).toBeUndefined();
    expect(h.records).toHaveLength(1);
    expect(h.records[0]).toMatchObject({ requestId: reply.requestId, correlationId: 'client-42', outcome: 'GRANTED', consumer: 'real-estate-centre' });
    expect(reply.requestId).not.toBe('client-42');
    expect(reply.body.extensions?.receipt).toBe(`receipt:${reply.requestId}:1`);
  });

  it('refuses a transport refusal before anything else, aggregated by source', async () => {
    const h = harness();
    const reply = await h.execute({ refusal: { code: 'PAYLOAD_TOO_LARGE', message: 'too large' }, peer: { address: '2001:db8:1:2::9' } });
    expect(reply.code).toBe('PAYLOAD_TOO_LARGE');
    expect(h.records).toHaveLength(0);
    expect(h.aggregated).toEqual([{ source: '2001:db8:1:2::/64', reason: 'PAYLOAD_TOO_LARGE' }]);
  });

  it('refuses a body that is not declared JSON (CSRF), before authentication', async () => {
    const h = harness();
    const reply = await h.execute(request(TRANSFER, 'garbage', { contentType: 'text/plain' }));
    expect(reply.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(h.aggregated.map((a) => a.reason)).toEqual(['UNSUPPORTED_MEDIA_TYPE']);
  });

  it('refuses a body declared in another charset or compressed, and one that is not UTF-8, naming what to send', async () => {
    const h = harness();
    const latin1 = await h.execute(request(TRANSFER, undefined, { charset: 'iso-8859-1' }));
    expect([latin1.code, (latin1.body.errors?.[0] as { message?: string }).message]).toEqual(['UNSUPPORTED_MEDIA_TYPE', 'Charset "iso-8859-1" is not accepted: a JSON body is UTF-8.']);
    const gzip = await h.execute(request(TRANSFER, undefined, { contentEncoding: 'gzip' }));
    expect([gzip.code, (gzip.body.errors?.[0] as { message?: string }).message]).toEqual(['UNSUPPORTED_MEDIA_TYPE', 'Content encoding "gzip" is not accepted: send the body uncompressed.']);
    expect(h.aggregated.map((a) => a.reason)).toEqual(['UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_MEDIA_TYPE']);
    // Bytes that are not UTF-8 would be read as U+FFFD: refused instead, after authentication, with a record.
    const bytes = Buffer.concat([Buffer.from('{"query":"{ __typename }","variables":{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    const invalid = await h.execute(request(bytes));
    expect([invalid.code, (invalid.body.errors?.[0] as { message?: string }).message]).toEqual(['BAD_REQUEST', 'The request body is not valid UTF-8.']);
    expect(h.records).toHaveLength(1);
    // A byte-order mark (RFC 8259 §8.1: never sent) is named, not reported as JSON that does not parse.
    const bom = await h.execute(request(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"query":"{ __typename }"}')])));
    expect([bom.code, (bom.body.errors?.[0] as { message?: string }).message]).toEqual(['BAD_REQUEST', 'The request body starts with a byte-order mark (U+FEFF): send the JSON without it.']);
    expect(h.records).toHaveLength(2);
    for (const fine of [{ charset: 'utf-8' }, { charset: 'utf8' }, { contentEncoding: 'identity' }]) expect((await h.execute(request(TRANSFER, undefined, fine))).code).toBeNull();
  });

  it('authenticates before it reads the body: a bad token with a bad body is UNAUTHENTICATED, aggregated', async () => {
    const h = harness();
    const reply = await h.execute(request(Buffer.from('{not json'), 'forged'));
    expect(reply.code).toBe('UNAUTHENTICATED');
    expect(h.records).toHaveLength(0);
    expect(h.aggregated).toEqual([{ source: '192.0.2.7', reason: 'UNAUTHENTICATED' }]);
  });

  it('rate-limits after authentication and before the replay guard and the parse', async () => {
    const h = harness();
    h.limited.add('real-estate-centre');
    const reply = await h.execute(request(Buffer.from('{not json')));
    expect(reply.code).toBe('RATE_LIMITED');
    expect(reply.retryAfterSeconds).toBe(3);
    expect(h.records).toEqual([expect.objectContaining({ outcome: 'DENIED', errorCodes: ['RATE_LIMITED'], consumer: 'real-estate-centre' })]);
  });

  it('refuses a replayed token, and fails closed with REPLAY_GUARD_UNAVAILABLE when the guard is down', async () => {
    const h = harness();
    const token = 'as real-estate-centre PROPERTY_TRANSFER jti-1';
    expect((await h.execute(request(TRANSFER, token))).code).toBeNull();
    const replayed = await h.execute(request(TRANSFER, token));
    expect(replayed.code).toBe('UNAUTHENTICATED');
    expect(replayed.body.errors?.[0]).toMatchObject({ extensions: { reason: 'REPLAYED' } });
    const down = await harness({ guard: { down: true } }).execute(request(TRANSFER));
    expect(down.code).toBe('REPLAY_GUARD_UNAVAILABLE');
    expect(errorInfo(down.code!).httpStatus).toBe(503);
    expect(down.retryAfterSeconds).toBe(1);
  });

  it('reports a typo as GRAPHQL_VALIDATION_FAILED, suggesting only fields the caller may see', async () => {
    const h = harness();
    const typo = await h.execute(request({ query: '{ person(idNumber: "P1") { nmae } }' }));
    expect(typo.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((typo.body.errors?.[0] as { message: string }).message).toBe('Cannot query field "nmae" on type "Person". Did you mean "name"?');
    expect(calls).toEqual([]);
    // A person's tax records are not granted to the tax bureau's enterprise desk: a near miss must not reveal them
    // (against the whole schema, graphql-js would suggest "taxRecords").
    const hidden = await h.execute(request({ query: '{ person(idNumber: "P1") { taxRecord } }' }, 'as tax-bureau ENTERPRISE_STARTUP'));
    expect(hidden.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(hidden.body)).not.toMatch(/taxRecords/);
    expect(h.records.map((r) => r.errorCodes)).toEqual([['GRAPHQL_VALIDATION_FAILED'], ['GRAPHQL_VALIDATION_FAILED']]);
  });

  it('lists at most 50 denied coordinates, with the count of all of them', async () => {
    const h = harness();
    // Every scalar of every type one level below the root: far more than 50 coordinates, none granted to an unknown consumer.
    const scalars = (typeName: string): string[] =>
      Object.values((schema.getType(typeName) as GraphQLObjectType).getFields())
        .filter((f) => isLeafType(getNamedType(f.type)) && f.args.length === 0)
        .map((f) => f.name);
    const selection = (typeName: string): string => {
      const type = schema.getType(typeName) as GraphQLObjectType;
      const nested = Object.values(type.getFields())
        .filter((f) => isObjectType(getNamedType(f.type)) && f.args.length === 0)
        .map((f) => `${f.name} { ${scalars(getNamedType(f.type).name).join(' ') || '__typename'} }`);
      return [...scalars(typeName), ...nested].join(' ');
    };
    const query = `{ person(idNumber: "P1") { ${selection('Person')} } enterprise(creditCode: "E1") { ${selection('Enterprise')} } property(unitNumber: "U1") { ${selection('Property')} } }`;
    const reply = await h.execute(request({ query }, 'as nobody-known PROPERTY_TRANSFER'));
    expect(reply.code).toBe('POLICY_DENIED');
    const error = reply.body.errors?.[0] as { message: string; extensions: { denied: string[]; deniedCount: number } };
    expect(error.extensions.deniedCount).toBeGreaterThan(50);
    expect(error.extensions.denied).toHaveLength(50);
    expect(error.message).toContain(`and ${error.extensions.deniedCount - 50} more`);
    expect(calls).toEqual([]);
    expect(h.records[0]).toMatchObject({ outcome: 'DENIED', errorCodes: ['POLICY_DENIED'] });
  });

  it('checks consents after the grants: a living-allowance check runs only with every family member consenting', async () => {
    const h = harness();
    const body = { query: LIVING_ALLOWANCE_QUERY, variables: { family: ['P1', 'P2'] } };
    const token = 'as civil-affairs LIVING_ALLOWANCE';
    const without = await h.execute(request(body, token));
    expect(without.code).toBe('POLICY_DENIED');
    expect(without.body.errors?.[0]).toMatchObject({ extensions: { missingConsent: [{ subject: 'people.idNumbers[0]', reason: 'absent' }, { subject: 'people.idNumbers[1]', reason: 'absent' }] } });
    const partly = await h.execute(request(body, token, { consent: fakeConsent('P1', 'LIVING_ALLOWANCE') }));
    expect(partly.code).toBe('POLICY_DENIED');
    expect(calls).toEqual([]);
    const consented = await h.execute(request(body, token, { consent: ['P1', 'P2'].map((id) => fakeConsent(id, 'LIVING_ALLOWANCE')).join(',') }));
    expect(consented.code).toBeNull();
    expect(h.records.map((r) => r.outcome)).toEqual(['DENIED', 'DENIED', 'GRANTED']);
  });

  it('gives no allowed decision without the consent step: the grants alone only yield a granted operation', async () => {
    const granted = policy.authorize({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: LIVING_ALLOWANCE_QUERY, variables: { family: ['P1'] } });
    expect(granted.allowed).toBe('pending-consent');
    if (granted.allowed !== 'pending-consent') return;
    expect(granted.requiresConsent).toBe(true);
    expect((await granted.consent([])).allowed).toBe(false);
    expect((await granted.consent([fakeConsent('P1', 'LIVING_ALLOWANCE')])).allowed).toBe(true);
  });

  it('counts lists sized by variables on every request, even for a document it has validated before', async () => {
    const h = harness();
    const query = 'query($ids: [ID!]!) { people(idNumbers: $ids) { properties { owners { owner { ... on Person { properties { owners { share } } } } } } } }';
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `P${i}`);
    const token = 'as tax-bureau INVESTIGATION';
    expect((await h.execute(request({ query, variables: { ids: ids(100) } }, token))).code).toBe('QUERY_TOO_COMPLEX');
    expect((await h.execute(request({ query, variables: { ids: ids(1) } }, token))).code).not.toBe('QUERY_TOO_COMPLEX');
    expect((await h.execute(request({ query, variables: { ids: ids(100) } }, token))).code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses a request whose variables do not coerce, or that carries too many consents, with 400 BAD_REQUEST', async () => {
    const h = harness();
    const wrong = await h.execute(request({ query: 'query($u: ID!) { property(unitNumber: $u) { address } }', variables: { u: { not: 'an id' } } }));
    expect(wrong.code).toBe('BAD_REQUEST');
    expect(errorInfo(wrong.code!).httpStatus).toBe(400);
    const tokens = Array.from({ length: 201 }, (_, i) => fakeConsent(`P${i}`, 'LIVING_ALLOWANCE')).join(',');
    const flood = await h.execute(request({ query: LIVING_ALLOWANCE_QUERY, variables: { family: ['P1'] } }, 'as civil-affairs LIVING_ALLOWANCE', { consent: tokens }));
    expect(flood.code).toBe('BAD_REQUEST');
    expect(flood.body.errors?.[0]).toMatchObject({ message: 'A request carries at most 200 consent tokens, got 201.' });
    expect(calls).toEqual([]);
  });

  it('refuses variables, a query or an operation name no receipt can carry with 400 BAD_REQUEST naming the place', async () => {
    const h = harness();
    const query = 'query($u: ID!) { property(unitNumber: $u) { address } }';
    const refused = async (body: string): Promise<unknown> => {
      const reply = await h.execute(request(Buffer.from(body)));
      expect(reply.code).toBe('BAD_REQUEST');
      return (reply.body.errors?.[0] as { message?: unknown } | undefined)?.message;
    };
    // JSON's escapes spell a lone surrogate; 1e400 parses as Infinity.
    expect(await refused(`{"query":${JSON.stringify(query)},"variables":{"u":"U\\ud800"}}`)).toBe('"variables.u" is not well-formed Unicode (it holds a lone surrogate).');
    expect(await refused(`{"query":${JSON.stringify(query)},"variables":{"u":"U1","list":[{"a":["x","\\udc00"]}]}}`)).toBe('"variables.list[0].a[1]" is not well-formed Unicode (it holds a lone surrogate).');
    expect(await refused(`{"query":${JSON.stringify(query)},"variables":{"u":"U1","odd key":{"\\ud800":1}}}`)).toBe('A name in "variables[…]" is not well-formed Unicode (it holds a lone surrogate).');
    expect(await refused(`{"query":${JSON.stringify(query)},"variables":{"u":"U1","n":[1e400]}}`)).toBe('"variables.n[0]" is a number beyond the range of a double.');
    expect(await refused(`{"query":"{ __typename } # \\ud800"}`)).toBe('"query" is not well-formed Unicode (it holds a lone surrogate).');
    expect(await refused(`{"query":"query A { __typename }","operationName":"A\\udfff"}`)).toBe('"operationName" is not well-formed Unicode (it holds a lone surrogate).');
    // Nor is such a query kept as a persisted query: asked by its hash alone, it is not found.
    const lone = '{ __typename } # \ud800';
    const hash = createHash('sha256').update(lone, 'utf8').digest('hex');
    const persisted = { version: 1, sha256Hash: hash };
    expect((await h.execute(request({ query: lone, extensions: { persistedQuery: persisted } }))).code).toBe('BAD_REQUEST');
    expect((await h.execute(request({ extensions: { persistedQuery: persisted } }))).code).toBe('PERSISTED_QUERY_NOT_FOUND');
    // A surrogate pair is well-formed text like any other.
    expect((await h.execute(request({ query, variables: { u: 'U\u{1F600}' } }))).code).toBeNull();
    expect(h.records.map((r) => r.outcome)).toEqual(['FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'FAILED', 'GRANTED']);
    expect(calls).toEqual(['Query.property', 'Property.address']);
  });

  it('withholds reply data a department sent with a lone surrogate: one record, a receipt, no 5xx', async () => {
    const broken = stubSchema();
    (broken.schema.getType('Property') as GraphQLObjectType).getFields().address!.resolve = () => 'Taian \ud800 Road';
    const h = harness({ schema: broken.schema, policy: demoEngine(broken.schema) });
    const reply = await h.execute(request({ query: 'query($u: ID!) { property(unitNumber: $u) { address } }', variables: { u: 'U1' } }));
    expect(reply.code).toBeNull();
    expect(reply.body.data).toBeNull();
    expect(reply.body.errors).toEqual([
      { message: "The reply's data was withheld: a department sent a value no receipt can carry (expected well-formed Unicode at data.property.address, but got: a lone surrogate).", extensions: { code: 'UPSTREAM_INVALID_RESPONSE' } },
    ]);
    expect(JSON.stringify(reply.body)).not.toContain('Taian');
    expect(h.records).toHaveLength(1);
    expect(h.records[0]).toMatchObject({ outcome: 'FAILED', errorCodes: ['UPSTREAM_INVALID_RESPONSE'], replyHash: expect.any(String) });
    expect(reply.body.extensions?.receipt).toBe(`receipt:${reply.requestId}:1`);
  });

  it('withholds the data when the record cannot be written (no record, no data)', async () => {
    const reply = await harness({ auditDown: true }).execute(request(TRANSFER));
    expect(reply.code).toBe('AUDIT_UNAVAILABLE');
    expect(reply.body.data).toBeUndefined();
  });
});

describe('every request, whatever it holds', () => {
  const tokens = ['as real-estate-centre PROPERTY_TRANSFER', 'as civil-affairs LIVING_ALLOWANCE', 'as tax-bureau ENTERPRISE_STARTUP', 'as nobody-known NO_SUCH_PURPOSE', 'forged', ''];
  const documents = [
    PROPERTY_TRANSFER_QUERY,
    '{ person(idNumber: "P1") { name } }',
    '{ person(idNumber: "P1") { nmae } }',
    '{ __schema { types { name } } }',
    'query A { catalog { coordinate } } query B { catalog { coordinate } }',
    'mutation { x }',
    '{'.repeat(3000),
    '[',
    '{ person(idNumber: "\ud800") { name } }',
  ];
  const arbitraryRequest: fc.Arbitrary<HubRequest> = fc.oneof(
    fc.record({ refusal: fc.constantFrom({ code: 'METHOD_NOT_ALLOWED', message: 'x' }, { code: 'PAYLOAD_TOO_LARGE', message: 'x' }, { code: 'HEADERS_TOO_LARGE', message: 'x' }) }),
    fc.record({ body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), contentType: fc.constantFrom('application/json', 'text/plain'), authorization: fc.constantFrom(...tokens.map((t) => `DatarunRequest ${t.replaceAll(' ', ':')}`)) }),
    fc.record({
      body: fc
        .record({
          // Any UTF-16 code units ('binary'): lone surrogates included, which JSON carries as escapes.
          query: fc.oneof(fc.constantFrom(...documents), fc.string({ maxLength: 200, unit: 'binary' }), fc.constant(undefined)),
          variables: fc.oneof(
            fc.constant(undefined),
            fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }),
            fc.dictionary(fc.string({ maxLength: 5, unit: 'binary' }), fc.oneof(fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), fc.constantFrom(Infinity, -Infinity))),
          ),
          operationName: fc.oneof(fc.constant(undefined), fc.constant(''), fc.constantFrom('A', 'B'), fc.string({ maxLength: 300, unit: 'binary' })),
        })
        // ±Infinity are written as ±1e400, which JSON.parse reads back as ±Infinity.
        .map((b) => Buffer.from(JSON.stringify(b, (_key, value: unknown) => (value === Infinity ? 'INF\u0000' : value === -Infinity ? '-INF\u0000' : value)).replaceAll('"INF\\u0000"', '1e400').replaceAll('"-INF\\u0000"', '-1e400'))),
      contentType: fc.constant('application/json'),
      authorization: fc.constantFrom(...tokens.map((t) => `DatarunRequest ${t.replaceAll(' ', ':')}`)),
      consent: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 50 })),
      correlationId: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 100 })),
    }),
  ).map((r) => ({ ...r, peer: { address: '198.51.100.1' } }) as HubRequest);

  it('leaves exactly one record or one aggregate increment, and never a 5xx for bad input', async () => {
    const h = harness();
    await fc.assert(
      fc.asyncProperty(arbitraryRequest, async (r) => {
        const before = h.records.length + h.aggregated.length;
        const reply = await h.execute(r);
        expect(h.records.length + h.aggregated.length).toBe(before + 1);
        const status = reply.code === null ? 200 : errorInfo(reply.code).httpStatus;
        expect(status).toBeLessThan(500);
        expect(codeOf(reply) ?? null).toBe(reply.code ?? codeOf(reply) ?? null);
      }),
      { numRuns: 300 },
    );
  });
});

describe("an adapter's own controller (the HTTP adapter's)", () => {
  const slowLimiter = { take: () => new Promise<{ allowed: true }>((resolve) => setTimeout(() => resolve({ allowed: true }), 50)) };

  it('is aborted at the deadline, with the same refusal as a request that passed a signal', async () => {
    const h = harness({ deadlineMs: 5, rateLimiter: slowLimiter });
    const controller = new AbortController();
    const own = await h.execute(request(TRANSFER, 'as real-estate-centre PROPERTY_TRANSFER', { controller }));
    const client = new AbortController();
    const joined = await h.execute(request(TRANSFER, 'as real-estate-centre PROPERTY_TRANSFER', { signal: client.signal }));
    expect(controller.signal.aborted).toBe(true);
    expect((controller.signal.reason as { code?: unknown }).code).toBe('DEADLINE_EXCEEDED');
    expect(own.code).toBe(joined.code);
    expect(own.code).not.toBeNull();
    expect(client.signal.aborted).toBe(false);
    expect(h.records).toHaveLength(2);
  });

  it('is left alone when the request ends before its deadline (the timer cleared)', async () => {
    const h = harness({ deadlineMs: 2_000 });
    const controller = new AbortController();
    const reply = await h.execute(request(TRANSFER, undefined, { controller }));
    expect(reply.code).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(controller.signal.aborted).toBe(false);
  });
});
