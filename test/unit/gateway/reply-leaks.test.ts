/**
 * No reply leaks, property-based: over the hub's real schema with stub resolvers that return a
 * unique seeded value per field coordinate and object (`v:Person.name:<object>`), random sharing
 * policies and random queries run through the real request pipeline in-process, with the real
 * seal service. Whatever the aliases, fragments, directives and unions of the query, no value of
 * a coordinate the test's own grant table does not grant, or grants masked, appears in the reply
 * bytes, in any decoded seal disclosure, or in any seal's `sub`. The expectations are read from
 * the generated policy by this file (the documented grant semantics), never from src/policy's
 * decisions; src/policy only validates the generated policy and runs inside the pipeline. Last,
 * the seal service's checks that a connector seals only shared fields of its types.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { getDirective } from '@graphql-tools/utils';
import * as fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isListType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLFieldResolver,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import type { AuditLog } from '../../../src/audit';
import { createPipeline, type HubReply } from '../../../src/gateway/pipeline';
import { loadTypeDefs } from '../../../src/gateway/schema';
import { assertSealsCovered, createSealResolvers, createSealService } from '../../../src/gateway/seals';
import { createPolicyEngine, DEMO_POLICY, type PolicyInput } from '../../../src/policy';
import { defineConnector, type Connector, type SealSpec } from '../../../src/sdk';
import { UnauthenticatedError, createKeyStore, type ReceiptSigner, type RequestVerifier } from '../../../src/seal';
import { WITH_DEPARTMENTS } from '../../support/keys';

const CONSUMER = 'leak-tester';
const PURPOSE = 'INVESTIGATION';
const RUNS = 200;

/** The stub object behind every object value: its id makes each seeded value unique. */
interface Stub {
  readonly __id: string;
  readonly __type?: string;
}

/** The seeded value of a String/ID coordinate on one object. */
const seeded = (coordinate: string, id: string): string => `v:${coordinate}:${id}`;
/** Every seeded value of a coordinate starts with this. */
const prefixOf = (coordinate: string): string => `v:${coordinate}:`;

// ---------------------------------------------------------------------------------------------
// The schema: schema/ with stub resolvers, and the real seal resolvers over stub connectors.

const typeDefs = loadTypeDefs();
const bare = makeExecutableSchema({ typeDefs });

interface Sdl {
  readonly class: string;
  readonly sensitivity: string | null;
  readonly department: string;
}

/** Each object field's @share arguments, read straight from the SDL. */
const sdl = new Map<string, Sdl>();
for (const type of Object.values(bare.getTypeMap())) {
  if (!isObjectType(type) || type.name.startsWith('__')) continue;
  for (const field of Object.values(type.getFields())) {
    const [args] = getDirective(bare, field, 'share') ?? [];
    if (args) sdl.set(`${type.name}.${field.name}`, { class: args['class'], sensitivity: args['sensitivity'] ?? null, department: args['department'] });
  }
}

const isSeededScalar = (type: GraphQLOutputType): boolean => {
  const named = getNamedType(type);
  return isScalarType(named) && (named.name === 'String' || named.name === 'ID');
};

/** The String/ID coordinates of the schema's department and shared types: where seeded values live. */
const SEEDED_COORDINATES = [...sdl.keys()].filter((c) => {
  const [t, f] = c.split('.') as [string, string];
  const s = sdl.get(c)!;
  return t !== 'Query' && s.department !== 'seal' && s.department !== 'catalog' && s.department !== 'audit' && isSeededScalar((bare.getType(t) as never as { getFields(): Record<string, { type: GraphQLOutputType }> }).getFields()[f]!.type);
});

function stubValue(type: GraphQLOutputType, id: string, index: number): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [0, 1].map((i) => stubValue(nullable.ofType, `${id}${i}`, i));
  if (isUnionType(nullable)) return { __id: id, __type: index % 2 === 0 ? 'Person' : 'Enterprise' } satisfies Stub;
  if (isObjectType(nullable)) return { __id: id } satisfies Stub;
  if (isEnumType(nullable)) return nullable.getValues()[0]!.value;
  if (isScalarType(nullable)) {
    if (nullable.name === 'Int') return 1;
    if (nullable.name === 'Float') return 1.5;
    if (nullable.name === 'Boolean') return true;
  }
  return null;
}

/** Resolvers of every department and shared field: seeded strings, stub objects with ids from their path. */
function stubResolvers(): Record<string, Record<string, unknown>> {
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const type of Object.values(bare.getTypeMap())) {
    if (isUnionType(type)) resolvers[type.name] = { __resolveType: (o: Stub) => o.__type };
    if (!isObjectType(type) || type.name.startsWith('__') || type.name === 'Seal' || type.name === 'SealVerification') continue;
    const fields: Record<string, GraphQLFieldResolver<Stub | undefined, unknown>> = {};
    for (const field of Object.values(type.getFields())) {
      if (field.name === 'seal') continue;
      const coordinate = `${type.name}.${field.name}`;
      fields[field.name] = (parent) => {
        const id = type.name === 'Query' ? field.name.slice(0, 2).toUpperCase() : `${parent!.__id}/${field.name}`;
        if (isSeededScalar(field.type)) return seeded(coordinate, parent!.__id);
        // A union value's member alternates with the parent's place in its list (owners0 → Person, owners1 → Enterprise).
        return stubValue(field.type, id, Number(/(\d)$/.exec(parent?.__id ?? '')?.[1] ?? 0));
      };
    }
    resolvers[type.name] = fields;
  }
  return resolvers;
}

/** The parent object's id of a stub (`P/properties0` → `P`). */
const parentId = (id: string): string => id.slice(0, id.lastIndexOf('/'));

/** A stub connector's seal spec for `typeName`: every seeded field of the type, as the reply would show it, and entity references where the real connectors seal them. */
function sealSpecOf(typeName: string, recordType: string, idOf: (record: Stub) => string): SealSpec {
  const type = bare.getType(typeName);
  if (!isObjectType(type)) throw new Error(typeName);
  const names = Object.values(type.getFields())
    .filter((f) => f.name !== 'seal' && sdl.get(`${typeName}.${f.name}`)?.class !== 'NOT_SHARED' && isSeededScalar(f.type))
    .map((f) => f.name);
  return {
    recordType,
    load: async (parent: Stub) => parent,
    id: (record: Stub) => idOf(record),
    fields: (record: Stub) => {
      const fields: Record<string, unknown> = {};
      for (const name of names) fields[name] = seeded(`${typeName}.${name}`, record.__id);
      if (typeName === 'Property') {
        // As the real-estate connector: owners with references to the owner, whose identifier a reply may mask.
        fields.owners = [0, 1].map((i) => {
          const owner = `${record.__id}/owners${i}/owner`;
          return { share: 1.5, kind: 'SOLE', owner: i % 2 === 0 ? { idNumber: seeded('Person.idNumber', owner) } : { creditCode: seeded('Enterprise.creditCode', owner) } };
        });
      }
      return fields;
    },
  };
}

const stubConnector = (id: string, seals: Record<string, SealSpec>): Connector =>
  defineConnector({ id, title: id, createLoaders: () => ({}), resolvers: () => ({}), probe: async () => undefined, seals });

const CONNECTORS: Connector[] = [
  stubConnector('real-estate', { Property: sealSpecOf('Property', 'RealEstateUnit', (r) => seeded('Property.unitNumber', r.__id)) }),
  stubConnector('market-regulation', { Enterprise: sealSpecOf('Enterprise', 'Enterprise', (r) => seeded('Enterprise.creditCode', r.__id)) }),
  stubConnector('social-security', {
    // The person's identity number, which the reply may mask or not grant: the seal must not carry it.
    SocialInsurance: sealSpecOf('SocialInsurance', 'InsuredPerson', (r) => seeded('Person.idNumber', parentId(r.__id))),
    EmployerAccount: sealSpecOf('EmployerAccount', 'EmployerAccount', (r) => seeded('EmployerAccount.accountNumber', r.__id)),
  }),
  stubConnector('tax', {
    // NOT_SHARED: never granted, so never in a reply nor in a seal.
    Taxpayer: sealSpecOf('Taxpayer', 'Taxpayer', (r) => seeded('Taxpayer.taxpayerId', r.__id)),
    TaxPayment: sealSpecOf('TaxPayment', 'TaxPayment', (r) => seeded('TaxPayment.voucherNumber', r.__id)),
  }),
  stubConnector('housing-fund', {
    FundAccount: sealSpecOf('FundAccount', 'FundAccount', (r) => seeded('FundAccount.accountNumber', r.__id)),
    FundEmployer: sealSpecOf('FundEmployer', 'FundEmployer', (r) => seeded('FundEmployer.employerAccountNumber', r.__id)),
  }),
];

// ---------------------------------------------------------------------------------------------
// Random policies, and the test's own reading of them.

/** Fields a random policy may grant and a random query may select, by type (cyclic: person → properties → owners → owner → person). */
const UNIVERSE: Readonly<Record<string, readonly string[]>> = {
  Query: ['person', 'property', 'enterprise'],
  Person: ['idNumber', 'name', 'birthDate', 'properties', 'taxRecords', 'socialInsurance', 'enterprises'],
  Property: ['unitNumber', 'address', 'certificateNumber', 'registeredAt', 'owners', 'transfers', 'deedTaxPayments'],
  Ownership: ['owner', 'share'],
  Transfer: ['transferNumber', 'from', 'to'],
  Enterprise: ['creditCode', 'name', 'address', 'legalRepresentative', 'taxStatus', 'employerAccount', 'properties'],
  Taxpayer: ['taxpayerId', 'name', 'taxOffice', 'registeredAt', 'payments'],
  TaxPayment: ['voucherNumber', 'paidAt', 'payer', 'property'],
  SocialInsurance: ['insuredSince', 'employer'],
  EmployerAccount: ['accountNumber', 'openedAt'],
};
const SEALED = new Set(['Property', 'Enterprise', 'Taxpayer', 'TaxPayment', 'SocialInsurance', 'EmployerAccount']);
const GRANTABLE = Object.entries(UNIVERSE).flatMap(([t, fs]) => fs.map((f) => `${t}.${f}`)).filter((c) => sdl.get(c)!.class !== 'NOT_SHARED');

interface Grant {
  fields: string[];
  purposes: string[];
  mask?: string[];
}

/** What the test itself reads from a policy: the coordinates granted, and those masked (masked only if every grant covering it masks it). */
function grantTable(grants: readonly Grant[]): { granted: Set<string>; masked: Set<string> } {
  const covering = new Map<string, boolean[]>();
  for (const grant of grants) {
    for (const entry of grant.fields) {
      const coordinates = entry.includes('.') ? [entry] : [...sdl.keys()].filter((c) => c.startsWith(`${entry}.`) && sdl.get(c)!.class !== 'NOT_SHARED');
      for (const c of coordinates) {
        const kind = sdl.get(c)!.sensitivity;
        const masks = (grant.mask ?? []).some((m) => m === c || (kind !== null && m === kind));
        covering.set(c, [...(covering.get(c) ?? []), masks]);
      }
    }
  }
  const granted = new Set(covering.keys());
  const masked = new Set([...covering].filter(([, masks]) => masks.every(Boolean)).map(([c]) => c));
  return { granted, masked };
}

const policyArb: fc.Arbitrary<Grant[]> = fc
  .record({
    // Per grantable coordinate: 0 not granted, 1 granted, 2 granted and masked (when it has a sensitivity); and which grant holds it.
    states: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: GRANTABLE.length, maxLength: GRANTABLE.length }),
    slots: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: GRANTABLE.length, maxLength: GRANTABLE.length }),
    byKind: fc.array(fc.boolean(), { minLength: GRANTABLE.length, maxLength: GRANTABLE.length }),
    // Whole-type grants on top, unmasked or masked by kind.
    wholeTypes: fc.subarray(['Person', 'Property', 'Enterprise', 'Taxpayer']),
    wholeMask: fc.subarray(['ID_NUMBER', 'NAME', 'ADDRESS']),
  })
  .map(({ states, slots, byKind, wholeTypes, wholeMask }) => {
    const grants: Grant[] = [0, 1, 2].map(() => ({ fields: [], purposes: [PURPOSE], mask: [] }));
    GRANTABLE.forEach((c, i) => {
      const kind = sdl.get(c)!.sensitivity;
      // The root fields are always granted, and sensitive fields mostly granted masked: masks are what this test is about.
      const state = c.startsWith('Query.') ? 1 : kind !== null ? [2, 2, 1][states[i]!]! : states[i]!;
      if (state === 0) return;
      const grant = grants[slots[i]!]!;
      grant.fields.push(c);
      if (state === 2 && kind !== null) grant.mask!.push(byKind[i] ? kind : c);
    });
    if (wholeTypes.length > 0) grants.push({ fields: wholeTypes, purposes: [PURPOSE], mask: wholeMask });
    return grants.filter((g) => g.fields.length > 0).map((g) => (g.mask!.length > 0 ? g : { fields: g.fields, purposes: g.purposes }));
  });

// ---------------------------------------------------------------------------------------------
// Random queries.

/** Aliases that collide with field names (shown in place of another field): used now and then, else a fresh alias. */
const ALIASES = ['idNumber', 'name', 'address', 'creditCode'];
/** Pairs of selections under one alias in the two branches of Party, of the same type so that the document is valid, but one the last (String and String!). */
const SAME_ALIAS: readonly (readonly [string, string])[] = [
  ['t: name', 't: name'],
  ['t: idNumber', 't: creditCode'],
  ['t: birthDate', 't: __typename'],
  ['t: name idNumber', 't: __typename'],
  ['t: idNumber name', 't: __typename'],
];

interface QueryScope {
  readonly fragments: string[];
  aliases: number;
}
const ROOT_ARGS: Readonly<Record<string, string>> = { person: '(idNumber: "x")', property: '(unitNumber: "x")', enterprise: '(creditCode: "x")' };

/** A random selection set on `typeName` (an object type or the Party union), mostly of granted fields. */
function selection(g: fc.GeneratorValue, typeName: string, depth: number, granted: ReadonlySet<string>, scope: QueryScope): string {
  const type = bare.getType(typeName)!;
  const parts: string[] = [];
  if (isUnionType(type)) {
    // The same alias on a masked field in one branch and on __typename or another field in the other.
    const [onPerson, onEnterprise] = g(fc.boolean) ? g(() => fc.constantFrom(...SAME_ALIAS)) : ['', ''];
    for (const member of type.getTypes()) {
      const inner = selection(g, member.name, depth, granted, scope);
      parts.push(`... on ${member.name} { ${member.name === 'Person' ? onPerson : onEnterprise} ${inner} }`);
    }
    if (g(fc.boolean)) parts.push('__typename');
    return parts.join(' ');
  }
  if (!isObjectType(type)) throw new Error(typeName);
  const fields = UNIVERSE[typeName] ?? [];
  const count = g(() => fc.integer({ min: 1, max: 4 }));
  for (let i = 0; i < count; i++) {
    const preferGranted = g(() => fc.integer({ min: 0, max: 9 })) > 0;
    const pool = preferGranted ? fields.filter((f) => granted.has(`${typeName}.${f}`)) : fields;
    if (pool.length === 0) continue;
    const name = g(() => fc.constantFrom(...pool));
    const field = type.getFields()[name]!;
    const named = getNamedType(field.type);
    const leaf = !isObjectType(named) && !isUnionType(named);
    if (!leaf && depth <= 0) continue;
    const aliasKind = g(() => fc.integer({ min: 0, max: 7 }));
    const alias = aliasKind === 0 ? `${g(() => fc.constantFrom(...ALIASES))}: ` : aliasKind <= 2 ? `a${scope.aliases++}: ` : '';
    const directive = g(() => fc.constantFrom('', '', '', '@include(if: true)', '@include(if: false)', '@skip(if: true)', '@skip(if: false)'));
    const args = typeName === 'Query' ? ROOT_ARGS[name]! : '';
    const sub = leaf ? '' : ` { ${selection(g, named.name, depth - 1, granted, scope)} }`;
    let part = `${alias}${name}${args} ${directive}${sub}`;
    const wrap = g(() => fc.constantFrom('none', 'none', 'inline', 'named'));
    if (wrap === 'inline') part = `... on ${typeName} ${g(fc.boolean) ? '@include(if: true) ' : ''}{ ${part} }`;
    if (wrap === 'named' && typeName !== 'Query') {
      const fragment = `F${scope.fragments.length}`;
      scope.fragments.push(`fragment ${fragment} on ${typeName} { ${part} }`);
      part = `...${fragment}`;
    }
    parts.push(part);
  }
  if (g(fc.boolean)) parts.push(g(fc.boolean) ? '__typename' : `a${scope.aliases++}: __typename`);
  if (SEALED.has(typeName) && g(fc.boolean)) parts.push(`${g(fc.boolean) ? `a${scope.aliases++}: ` : ''}seal { token recordType issuer }`);
  if (parts.length === 0) parts.push('__typename');
  return parts.join(' ');
}

function queryOf(g: fc.GeneratorValue, granted: ReadonlySet<string>): string {
  const scope: QueryScope = { fragments: [], aliases: 0 };
  const body = selection(g, 'Query', 5, granted, scope);
  return [`query Q { ${body} }`, ...scope.fragments].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The pipeline, with fakes around it and the real seal service.

const tokenOf = (jti: number): string => `DatarunRequest as:${CONSUMER}:${PURPOSE}:${jti}`;

function fakeVerifier(): RequestVerifier {
  const authenticate = (token: string | undefined) => {
    const m = /^as:([a-z-]+):([A-Z_]+):(\S+)$/.exec(token ?? '');
    if (!m) throw new UnauthenticatedError('MALFORMED', 'request token is malformed');
    return { consumer: m[1]!, roles: ['consumer'], keyId: 'k', claims: { iss: m[1]!, aud: 'hub', iat: 0, exp: 1, jti: m[3]!, bh: '', purpose: m[2]!, case: 'C-1', operator: 'op' } };
  };
  return { authenticate, remember: async () => undefined, verify: async (token) => authenticate(token) } as RequestVerifier;
}

let keysDir: string;
let sealService: ReturnType<typeof createSealService>;
let schema: GraphQLSchema;

beforeAll(async () => {
  keysDir = await mkdtemp(join(tmpdir(), 'datarun-leaks-'));
  sealService = createSealService(await createKeyStore(keysDir, WITH_DEPARTMENTS), { subjectSecret: 'the-seal-subject-secret-of-the-leak-test' });
  schema = makeExecutableSchema({ typeDefs, resolvers: [stubResolvers(), createSealResolvers(CONNECTORS, sealService)] as never });
  // The stub seal specs pass the start-up check: they seal only shared fields of their types.
  assertSealsCovered(schema, CONNECTORS);
});
afterAll(async () => {
  await rm(keysDir, { recursive: true, force: true });
});

let jti = 0;

/** The policy engine of one generated policy; throws for a policy the hub would refuse at start-up. */
function engineOf(grants: Grant[]) {
  const policy = {
    version: 1,
    // The demo purposes, none needing consent: the test's consumer is the only one.
    purposes: DEMO_POLICY.purposes.map((p) => ({ ...p, requiresConsent: false })),
    // Cost limits raised: the random queries nest lists deep (a valid policy option).
    consumers: [{ id: CONSUMER, name: 'the leak test', roles: ['consumer'], grants, limits: { maxEstimatedResults: 1_000_000_000, maxDepth: 30, maxAliases: 1000 } }],
  } as PolicyInput;
  return createPolicyEngine({ schema, policy, verifyConsent: () => ({ valid: false, reason: 'none' }) });
}

async function run(grants: Grant[], query: string): Promise<HubReply> {
  const engine = engineOf(grants);
  const pipeline = createPipeline({
    schema,
    security: 'signed',
    verifier: fakeVerifier(),
    rateLimiter: { take: async () => ({ allowed: true }) },
    policy: engine,
    receipts: { signReceipt: () => 'receipt' } as unknown as ReceiptSigner,
    audit: { append: async () => ({ seq: 1 }), treeHead: () => null } as unknown as AuditLog,
    refusals: undefined,
    cacheOf: () => undefined,
    logger: { warn: () => undefined, error: () => undefined },
  });
  return pipeline.execute({
    body: Buffer.from(JSON.stringify({ query })),
    contentType: 'application/json',
    authorization: tokenOf(++jti),
    peer: { address: '192.0.2.7' },
  });
}

/** Every seal token of a reply, wherever its alias put it. */
function tokensIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => tokensIn(v, out));
  else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) {
      if (typeof v === 'string' && /^ey[\w-]+\.[\w-]+\.[\w-]+~/.test(v)) out.push(v);
      else tokensIn(v, out);
    }
  }
  return out;
}

interface Leak {
  readonly where: string;
  readonly coordinate: string;
}

/** Values of forbidden coordinates in the reply bytes, the seals' decoded disclosures and their `sub`s; and any seeded value in a `sub`. */
function leaksOf(reply: HubReply, grants: readonly Grant[]): Leak[] {
  const { granted, masked } = grantTable(grants);
  const forbidden = SEEDED_COORDINATES.filter((c) => !granted.has(c) || masked.has(c));
  const leaks: Leak[] = [];
  const bytes = JSON.stringify(reply.body);
  for (const c of forbidden) if (bytes.includes(prefixOf(c))) leaks.push({ where: 'reply', coordinate: c });
  for (const token of tokensIn(reply.body.data)) {
    const [jwt, ...disclosures] = token.split('~');
    const payload = JSON.parse(Buffer.from(jwt!.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string };
    if (!/^[\w-]{43}$/.test(payload.sub) || payload.sub.includes('v:')) leaks.push({ where: 'sub', coordinate: payload.sub });
    for (const d of disclosures.filter(Boolean)) {
      const decoded = Buffer.from(d, 'base64url').toString('utf8');
      for (const c of forbidden) if (decoded.includes(prefixOf(c))) leaks.push({ where: `seal disclosure ${decoded}`, coordinate: c });
    }
  }
  return leaks;
}

// ---------------------------------------------------------------------------------------------

describe('no value the reply may not show leaks, in the reply or its seals', () => {
  it('the generated policies are valid sharing policies', () => {
    fc.assert(
      fc.property(policyArb, (grants) => {
        engineOf(grants);
      }),
      { numRuns: 50 },
    );
  });

  it('the detector itself sees a value shown unmasked, in the reply and in a seal disclosure, read against a policy that masks it', async () => {
    const unmasked: Grant[] = [{ fields: ['Query.property', 'Property.owners', 'Ownership.owner', 'Ownership.share', 'Ownership.kind', 'Person.idNumber', 'Enterprise.creditCode'], purposes: [PURPOSE] }];
    const reply = await run(unmasked, 'query { property(unitNumber: "x") { owners { share kind owner { ... on Person { idNumber } ... on Enterprise { creditCode } } } seal { token } } }');
    expect(leaksOf(reply, unmasked)).toEqual([]);
    const masked = [{ ...unmasked[0]!, mask: ['Person.idNumber'] }];
    const wheres = leaksOf(reply, masked).map((l) => `${l.where.split(' ')[0]} ${l.coordinate}`);
    expect(wheres).toEqual(expect.arrayContaining(['reply Person.idNumber', 'seal Person.idNumber']));
  });

  it('a masked Person.name and idNumber under Property.owners, aliased alike across the union branches, stay masked in the reply and its seals', async () => {
    const grants: Grant[] = [
      { fields: ['Query.property', 'Property.unitNumber', 'Property.owners', 'Ownership.owner', 'Ownership.share', 'Person.name', 'Person.idNumber', 'Enterprise.name', 'Enterprise.creditCode'], purposes: [PURPOSE], mask: ['Person.name', 'ID_NUMBER'] },
    ];
    for (const query of [
      'query { property(unitNumber: "x") { unitNumber owners { share owner { ... on Person { t: name idNumber } ... on Enterprise { t: name creditCode } } } seal { token } } }',
      'query { property(unitNumber: "x") { owners { owner { ... on Person { t: idNumber } ... on Enterprise { t: creditCode } } } seal { token } } }',
      'query { property(unitNumber: "x") { owners { owner { ... on Person { name: idNumber idNumber: name } ... on Enterprise { creditCode } } } seal { token } } }',
      // __typename in one branch and a masked field in the other under one alias (graphql-js does not compare a meta-field's type).
      'query { property(unitNumber: "x") { owners { owner { ... on Person { t: name idNumber } ... on Enterprise { t: __typename } } } } }',
    ]) {
      const reply = await run(grants, query);
      const served = reply.code === null && reply.body.data !== undefined;
      expect({ query, served, leaks: leaksOf(reply, grants) }).toEqual({ query, served: true, leaks: [] });
    }
  });

  it('a seal never carries its record id as sub: not the NOT_SHARED taxpayerId, not an identity number the reply masks', async () => {
    const grants: Grant[] = [{ fields: ['Query.person', 'Person.idNumber', 'Person.taxRecords', 'Taxpayer.name', 'Person.socialInsurance', 'SocialInsurance.insuredSince'], purposes: [PURPOSE], mask: ['Person.idNumber'] }];
    const reply = await run(grants, 'query { person(idNumber: "x") { idNumber taxRecords { name seal { token } } socialInsurance { insuredSince seal { token } } } }');
    expect(reply.code).toBeNull();
    const tokens = tokensIn(reply.body.data);
    expect(tokens).toHaveLength(2);
    expect(leaksOf(reply, grants)).toEqual([]);
  });

  it('property: random policies and random queries (aliases, fragments, @include/@skip, unions, cycles) leak nothing', async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(policyArb, fc.gen(), async (grants, g) => {
        const { granted } = grantTable(grants);
        const query = queryOf(g, granted);
        const reply = await run(grants, query);
        const outcome = reply.code ?? 'SERVED';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        const leaks = leaksOf(reply, grants);
        if (leaks.length > 0) throw new Error(`leaks ${JSON.stringify(leaks.slice(0, 5))}\nquery: ${query}\nreply: ${JSON.stringify(reply.body).slice(0, 2000)}`);
      }),
      // The first counterexample is reported as found: shrinking a policy and a query together takes minutes.
      { numRuns: RUNS, endOnFailure: true },
    );
    // Enough of the random queries are served for the property to mean something.
    expect(outcomes.get('SERVED') ?? 0).toBeGreaterThan(RUNS / 4);
  });
});

describe('the start-up check of the sealed fields (assertSealsCovered) and the seal-time one', () => {
  const withTax = (spec: Partial<SealSpec>): Connector[] => [
    ...CONNECTORS.filter((c) => c.id !== 'tax'),
    stubConnector('tax', { Taxpayer: { ...CONNECTORS.find((c) => c.id === 'tax')!.seals.Taxpayer!, ...spec }, TaxPayment: CONNECTORS.find((c) => c.id === 'tax')!.seals.TaxPayment! }),
  ];

  it('refuses a spec that would seal a NOT_SHARED field, one that is not a field of the type, or the whole record', () => {
    expect(() => assertSealsCovered(schema, withTax({ fields: (r: { taxpayerId: string; name: string }) => ({ name: r.name, taxpayerId: r.taxpayerId }) }))).toThrow(
      expect.objectContaining({ code: 'CONNECTOR_DEFINITION_INVALID', message: expect.stringContaining('"taxpayerId", which Taxpayer does not share (NOT_SHARED)') }),
    );
    expect(() => assertSealsCovered(schema, withTax({ fields: (r: { internalNote: string }) => ({ internalNote: r.internalNote }) }))).toThrow(/"internalNote", which is not a field of Taxpayer/);
    expect(() => assertSealsCovered(schema, withTax({ fields: (r: object) => ({ ...r }) }))).toThrow(/copies every field of the department record/);
    expect(() => assertSealsCovered(schema, withTax({ fields: () => ({ seal: 'x' }) }))).toThrow(/"seal", which is not a field of Taxpayer/);
  });

  it('refuses at seal time what a probe record cannot show: a nested member that is not shared or not a field', async () => {
    const type = schema.getType('Property') as never;
    const property = CONNECTORS.find((c) => c.id === 'real-estate')!.seals.Property!;
    const nested = { ...property, fields: () => ({ owners: [{ share: 1, owner: { idNumber: 'x', accountNumber: 'y' } }] }) };
    await expect(sealService.seal('real-estate', nested, { __id: 'N' }, { type, schema })).rejects.toThrow(/"owners\[0\]\.owner\.accountNumber", which is not a field of Party/);
    const notShared = { ...property, fields: () => ({ owners: [{ owner: { creditCode: 'c', employerAccount: { accountNumber: 'z' } } }] }) };
    await expect(sealService.seal('real-estate', notShared, { __id: 'N' }, { type, schema })).rejects.toThrow(/"owners\[0\]\.owner\.employerAccount\.accountNumber", which EmployerAccount does not share/);
  });
});
