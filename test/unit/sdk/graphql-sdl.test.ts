import fc from 'fast-check';
import { Kind, parse, print, type ConstDirectiveNode, type FieldDefinitionNode, type TypeNode } from 'graphql';
import { connectorModule as housingFund } from '../../../connectors/housing-fund';
import { buildHubSchema, loadTypeDefs } from '../../../src/gateway/schema';
import { assertFullyClassified, createPolicyEngine, DEMO_POLICY } from '../../../src/policy';
import { derivePlan, parseRemoteSchema, type ClassificationInput, type GraphqlClassification } from '../../../src/sdk';

const FUND_SETTINGS = housingFund.settings.parse({ url: 'http://127.0.0.1:9/graphql' });

/** A plan from an SDL and a classification, federation mode unless said otherwise. */
function planOf(sdl: string, classification: ClassificationInput = {}, extra: Partial<Parameters<typeof derivePlan>[0]> = {}) {
  return derivePlan({ connector: 'dept', remote: parseRemoteSchema('dept', sdl), classification: classification as GraphqlClassification, mode: 'federation', ...extra });
}

/** Every field definition of the SDL's object types and extensions, by coordinate. */
function fieldsOf(sdl: string): Map<string, FieldDefinitionNode> {
  const out = new Map<string, FieldDefinitionNode>();
  for (const d of parse(sdl).definitions) {
    if (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) for (const f of d.fields ?? []) out.set(`${d.name.value}.${f.name.value}`, f);
  }
  return out;
}

const directives = (f: FieldDefinitionNode, name: string): readonly ConstDirectiveNode[] => (f.directives ?? []).filter((d) => d.name.value === name);
const arg = (d: ConstDirectiveNode, name: string) => d.arguments?.find((a) => a.name.value === name)?.value;
const isList = (t: TypeNode): boolean => t.kind === Kind.LIST_TYPE || (t.kind === Kind.NON_NULL_TYPE && t.type.kind === Kind.LIST_TYPE);

describe('the hub SDL of the housing provident fund', () => {
  let sdl: string;
  beforeAll(async () => {
    sdl = await housingFund.typeDefs(FUND_SETTINGS);
  });

  it('extends the shared entities with their non-key fields, nullable, and adds the fund types and root fields', () => {
    const fields = fieldsOf(sdl);
    expect(print(fields.get('Person.providentFund')!.type)).toBe('FundAccount');
    expect(print(fields.get('Enterprise.providentFundEmployer')!.type)).toBe('FundEmployer');
    expect(fields.has('Person.idNumber')).toBe(false);
    expect([...fields.keys()].some((c) => c.startsWith('Property.'))).toBe(false);
    expect(print(fields.get('FundAccount.holder')!.type)).toBe('Person!');
    expect(print(fields.get('FundAccount.employer')!.type)).toBe('Enterprise');
    expect(print(fields.get('FundLoan.property')!.type)).toBe('Property');
    expect(print(fields.get('Query.fundAccount')!.type)).toBe('FundAccount');
    expect(fields.get('Query.fundAccount')!.arguments!.map((a) => `${a.name.value}: ${print(a.type)}`)).toEqual(['accountNumber: ID!']);
    expect(sdl).toContain('extend type Person {');
    expect(sdl).toMatch(/^type FundAccount \{/m);
  });

  it('drops the federation machinery', () => {
    for (const word of ['@key', '@link', '_service', '_entities', '_Any', 'specs.apollo.dev']) expect(sdl).not.toContain(word);
  });

  it('seals the two keyed record types, and classifies every field from classification.json', () => {
    const fields = fieldsOf(sdl);
    expect([...fields.keys()].filter((c) => c.endsWith('.seal')).sort()).toEqual(['FundAccount.seal', 'FundEmployer.seal']);
    const balance = directives(fields.get('FundAccount.balance')!, 'share')[0]!;
    expect(print(balance)).toBe('@share(class: CONDITIONAL, purposes: ["LIVING_ALLOWANCE", "HOUSING_LOAN"], department: "housing-fund", updateCycle: DAILY)');
    expect(print(directives(fields.get('FundAccount.status')!, 'share')[0]!)).toBe('@share(class: UNCONDITIONAL, department: "housing-fund", updateCycle: DAILY)');
    expect(print(directives(fields.get('FundAccount.contributions')!, 'listSize')[0]!)).toBe('@listSize(max: 480)');
  });

  it('builds into the hub schema with the other departments, fully classified, and the demo policy validates against it', () => {
    const connector = housingFund.create(FUND_SETTINGS, { defaultTimeoutMs: 2000 });
    const schema = buildHubSchema([connector], [...loadTypeDefs(), sdl]);
    expect(() => assertFullyClassified(schema)).not.toThrow();
    expect(() => createPolicyEngine({ schema, policy: DEMO_POLICY })).not.toThrow();
  });
});

describe('deriving the hub SDL', () => {
  const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n';

  it('fetches a field whose arguments all have defaults with the defaults, and drops the arguments from the hub SDL', () => {
    const plan = planOf(`${FED} type Query { a(id: ID!): A } type A @key(fields: "id") { id: ID! items(first: Int = 10, order: String = "asc"): [String!]! }`);
    expect(print(fieldsOf(plan.typeDefs).get('A.items')!)).not.toContain('first');
    expect(plan.selectionOf('A')).toBe('id items');
  });

  it('refuses a field below the root with an argument without a default, naming it', () => {
    expect(() => planOf(`type Query { a: A } type A { items(first: Int!): [String] }`)).toThrow(/A\.items takes argument first without a default/);
  });

  it('names a classification entry for a field the remote schema does not have', () => {
    expect(() => planOf('type Query { a: A } type A { x: Int }', { fields: { 'A.y': { class: 'UNCONDITIONAL' } } })).toThrow(/classification of A\.y: the remote schema has no field A\.y/);
  });

  it('refuses a sensitivity on a field that is not a String or ID, and a listSize on a field that is not a list', () => {
    expect(() => planOf('type Query { a: A } type A { x: Int }', { fields: { 'A.x': { class: 'UNCONDITIONAL', sensitivity: 'NAME' } } })).toThrow(/A\.x: sensitivity NAME applies to String or ID fields/);
    expect(() => planOf('type Query { a: A } type A { x: Int }', { fields: { 'A.x': { class: 'UNCONDITIONAL', listSize: 5 } } })).toThrow(/A\.x: listSize applies to list fields only/);
  });

  it('refuses interfaces, unions and composite keys, naming the type', () => {
    expect(() => planOf('type Query { a: N } interface N { id: ID }')).toThrow(/N, an interface or union/);
    expect(() => planOf(`${FED} type Query { a: A } type A @key(fields: "x y") { x: ID! y: ID! }`)).toThrow(/A only composite @key fields/);
    expect(() => planOf(`${FED} type Query { a: A } type A @key(fields: "x") { x: Float! }`)).toThrow(/A\.x, the key of A, must be an ID, String or Int/);
  });

  it('leaves out @inaccessible fields and @external fields other than the key, and refuses @requires', () => {
    const FED_ALL = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@inaccessible", "@requires"])\n';
    const plan = planOf(`${FED_ALL} type Query { a(id: ID!): A } type A @key(fields: "id") { id: ID! @external secret: String @inaccessible weight: Int @external shown: Int }`);
    expect([...fieldsOf(plan.typeDefs).keys()].filter((c) => c.startsWith('A.'))).toEqual(['A.id', 'A.shown', 'A.seal']);
    expect(() => planOf(`${FED_ALL} type Query { a: A } type A @key(fields: "id") { id: ID! w: Int @external total: Int @requires(fields: "w") }`)).toThrow(/A\.total @requires/);
  });

  it('refuses a remote SDL that is not GraphQL', () => {
    expect(() => planOf('type Query {')).toThrow(/GraphQL connector "dept": the remote SDL is not valid GraphQL/);
  });

  it('in plain mode, needs a batch field for each shared entity it extends, and checks it against the remote Query', () => {
    const sdl = 'type Query { person(idNumber: ID!): Person persons(idNumbers: [ID!]!): [Person]! } type Person { idNumber: ID! score: Int }';
    expect(() => planOf(sdl, {}, { mode: 'plain' })).toThrow(/mode "plain" needs batch\.Person/);
    expect(() => planOf(sdl, {}, { mode: 'plain', batch: { Person: { rootField: 'nobody', argument: 'idNumber' } } })).toThrow(/batch\.Person\.rootField: the remote Query has no field nobody/);
    expect(() => planOf(sdl, {}, { mode: 'plain', batch: { Person: { rootField: 'person', argument: 'idNumber' } } })).toThrow(/must take a list of keys/);
    expect(planOf(sdl, {}, { mode: 'plain', batch: { Person: { rootField: 'person', argument: 'idNumber', aliased: true } } }).typeDefs).toContain('extend type Person');
    // The remote root fields returning a shared entity are left out: the hub's own root fields reach it.
    expect(planOf(sdl, {}, { mode: 'plain', batch: { Person: { rootField: 'persons', argument: 'idNumbers' } } }).typeDefs).not.toContain('extend type Query');
  });

  it('refuses a cycle of nested objects without a key', () => {
    expect(() => planOf('type Query { a: A } type A { b: B } type B { a: A }')).toThrow(/form a cycle/);
  });
});

describe('classification property', () => {
  const SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    type Query { fundAccount(accountNumber: ID!): FundAccount  stats(year: Int = 2025): [Stat!]  person(idNumber: ID!): Person }
    type Person @key(fields: "idNumber") { idNumber: ID!  providentFund: FundAccount  tags: [String] }
    type Enterprise @key(fields: "creditCode") { creditCode: ID!  accounts: [FundAccount!]! }
    type FundAccount @key(fields: "accountNumber") { accountNumber: ID!  holder: Person!  history(last: Int = 12): [[Float!]]!  status: Status!  note: String  loans: [Loan!]! }
    type Loan { amount: Float!  property: Property  events: [String!]! }
    type Property @key(fields: "unitNumber") { unitNumber: ID! }
    type Stat { name: String!  values: [Int!]! }
    enum Status { OPEN CLOSED }`;
  const remote = parseRemoteSchema('dept', SDL);
  // The coordinates the hub SDL shows, with whether each is a list and a String/ID.
  const coordinates: { coordinate: string; list: boolean; text: boolean }[] = [];
  for (const t of remote.objects.values()) {
    for (const f of t.fields.values()) {
      const key = { Person: 'idNumber', Enterprise: 'creditCode', Property: 'unitNumber' }[t.name];
      if (f.name === key) continue;
      const named = print(f.type).replace(/[[\]!]/g, '');
      coordinates.push({ coordinate: `${t.name}.${f.name}`, list: isList(f.type), text: named === 'String' || named === 'ID' });
    }
  }
  for (const f of remote.query.values()) if (f.name !== 'person') coordinates.push({ coordinate: `Query.${f.name}`, list: isList(f.type), text: false });

  const entryArb = (c: (typeof coordinates)[number]) =>
    fc.record(
      {
        class: fc.constantFrom('UNCONDITIONAL' as const, 'CONDITIONAL' as const, 'NOT_SHARED' as const),
        purposes: fc.uniqueArray(fc.constantFrom('A_PURPOSE', 'LIVING_ALLOWANCE', 'HOUSING_LOAN'), { minLength: 1, maxLength: 3 }),
        sensitivity: c.text ? fc.constantFrom('NAME' as const, 'ID_NUMBER' as const) : fc.constant(undefined),
        updateCycle: fc.constantFrom('REAL_TIME' as const, 'DAILY' as const, 'YEARLY' as const),
        listSize: c.list ? fc.integer({ min: 1, max: 10_000 }) : fc.constant(undefined),
      },
      { requiredKeys: ['class'] },
    ).map((e) => {
      const out: Record<string, unknown> = { class: e.class };
      if (e.class === 'CONDITIONAL') out.purposes = e.purposes ?? ['A_PURPOSE'];
      for (const k of ['sensitivity', 'updateCycle', 'listSize'] as const) if (e[k] !== undefined) out[k] = e[k];
      return out;
    });
  const classificationArb = fc
    .tuple(...coordinates.map((c) => fc.option(entryArb(c), { nil: undefined })), fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }))
    .map((values) => {
      const fields: Record<string, unknown> = {};
      coordinates.forEach((c, i) => {
        if (values[i] !== undefined) fields[c.coordinate] = values[i];
      });
      const listSize = values[coordinates.length] as number | undefined;
      return { ...(listSize !== undefined ? { defaults: { listSize } } : {}), fields } as ClassificationInput;
    });

  it('gives every field of the hub SDL exactly one @share (NOT_SHARED when unclassified) and every list field one @listSize', () => {
    fc.assert(
      fc.property(classificationArb, (classification) => {
        const plan = derivePlan({ connector: 'dept', remote, classification: classification as GraphqlClassification, mode: 'federation' });
        const fields = fieldsOf(plan.typeDefs);
        const given = (classification.fields ?? {}) as Record<string, { class: string; listSize?: number }>;
        for (const [coordinate, field] of fields) {
          const shares = directives(field, 'share');
          expect(shares).toHaveLength(1);
          const cls = arg(shares[0]!, 'class');
          if (field.name.value === 'seal') {
            expect(cls).toMatchObject({ value: 'UNCONDITIONAL' });
            continue;
          }
          expect(cls).toMatchObject({ value: given[coordinate]?.class ?? 'NOT_SHARED' });
          expect(arg(shares[0]!, 'department')).toMatchObject({ value: 'dept' });
          const sizes = directives(field, 'listSize');
          expect(sizes).toHaveLength(isList(field.type) ? 1 : 0);
          if (isList(field.type)) {
            const expected = given[coordinate]?.listSize ?? classification.defaults?.listSize ?? 100;
            expect(arg(sizes[0]!, 'max')).toMatchObject({ value: String(expected) });
          }
        }
        // Every classifiable coordinate is in the SDL, and nothing else.
        expect([...fields.keys()].filter((c) => !c.endsWith('.seal')).sort()).toEqual(coordinates.map((c) => c.coordinate).sort());
      }),
      { numRuns: 200 },
    );
  });
});
