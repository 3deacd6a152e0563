import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, parse, validate, type GraphQLSchema } from 'graphql';
import { LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY } from '../../../src/cli/examples';
import {
  DEFAULT_LIMITS,
  QueryTooComplexError,
  limitRules,
  listBoundsOf,
  parseBounded,
  resolveLimits,
  unboundedLists,
  type QueryLimits,
} from '../../../src/gateway/limits';
import { MAX_IDS_PER_ARGUMENT } from '../../../src/gateway/root-resolvers';
import { buildHubSchema, loadTypeDefs } from '../../../src/gateway/schema';
import { MAX_PAGE_SIZE } from '../../../src/audit';

const schema: GraphQLSchema = buildHubSchema([]);
const ID = '11010519491231002X';

/** Limits that let everything through except the one under test. */
const OPEN: QueryLimits = { maxDocumentBytes: 1e9, maxTokens: 1e9, maxDepth: 1e9, maxAliases: 1e9, maxRootFields: 1e9, maxEstimatedResults: 1e15 };

function refusals(source: string, limits: Partial<QueryLimits> = {}, variables?: Record<string, unknown>): QueryTooComplexError[] {
  const errors = validate(schema, parse(source), limitRules({ ...OPEN, ...limits }, { variables }));
  for (const e of errors) expect(e).toBeInstanceOf(QueryTooComplexError);
  return errors as QueryTooComplexError[];
}

function refusalOf(source: string, limits: Partial<QueryLimits>, variables?: Record<string, unknown>): QueryTooComplexError {
  const errors = refusals(source, limits, variables);
  expect(errors).toHaveLength(1);
  return errors[0]!;
}

/** What `validate` measures for one limit: set it to 0 and read the value reported. */
function measured(source: string, limit: keyof QueryLimits, variables?: Record<string, unknown>): number {
  return refusals(source, { [limit]: 0 }, variables).find((e) => e.limit === limit)?.value ?? 0;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/**
 * The query of the incident: through a grant of properties and owners, person → properties →
 * owners → owner → properties … down to depth 16, a few fields at each level (about 1.3 KB).
 */
function cyclicQuery(): string {
  const unit = 'unitNumber certificateNumber address area usage registeredAt mortgages { mortgagee amount status } seizures { court caseNumber status } transfers { date price }';
  // Each turn adds properties → owners → owner (3 levels); person and the innermost properties → owners → share make 16.
  let inner = `properties { ${unit} owners { share kind } }`;
  for (let turn = 0; turn < 4; turn++) {
    inner = `properties { ${unit} owners { share kind owner { ... on Person { idNumber name gender birthDate ${inner} } } } }`;
  }
  return `query Cyclic($id: ID!) { person(idNumber: $id) { idNumber name gender birthDate ${inner} } }`;
}

describe('QueryTooComplexError', () => {
  it('carries the code, the limit, the value and the maximum, and names them in its message', () => {
    const error = new QueryTooComplexError('maxDepth', 16, 10);
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error.code).toBe('QUERY_TOO_COMPLEX');
    expect(error.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', value: 16, max: 10 });
    expect(error.message).toBe('Query depth 16 exceeds the limit of 10 (maxDepth).');
  });
});

describe('parseBounded', () => {
  it('refuses a document over maxDocumentBytes before parsing, counting UTF-8 bytes', () => {
    const source = `{ person(idNumber: "${'王'.repeat(40)}") { idNumber } }`; // 40 characters, 120 bytes
    const error = thrown(() => parseBounded(source, { ...DEFAULT_LIMITS, maxDocumentBytes: 100 })) as QueryTooComplexError;
    expect(error).toBeInstanceOf(QueryTooComplexError);
    expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDocumentBytes', value: Buffer.byteLength(source), max: 100 });
    expect(error.message).toBe(`Query document size in bytes ${Buffer.byteLength(source)} exceeds the limit of 100 (maxDocumentBytes).`);
  });

  it('stops parsing past maxTokens', () => {
    const error = thrown(() => parseBounded(`{ ${'__typename '.repeat(50)}}`, { ...DEFAULT_LIMITS, maxTokens: 20 })) as QueryTooComplexError;
    expect(error).toBeInstanceOf(QueryTooComplexError);
    expect(error.extensions).toMatchObject({ limit: 'maxTokens', value: 21, max: 20 });
  });

  it('parses a document within the limits', () => {
    expect(parseBounded(PROPERTY_TRANSFER_QUERY, DEFAULT_LIMITS).definitions).toHaveLength(2);
  });

  it("rethrows other syntax errors as graphql-js's GraphQLError", () => {
    const error = thrown(() => parseBounded('{ person(idNumber: ) }', DEFAULT_LIMITS));
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error).not.toBeInstanceOf(QueryTooComplexError);
    expect((error as GraphQLError).message).toMatch(/^Syntax Error/);
  });

  it.each([
    ['brackets', `{ person(idNumber: ${'['.repeat(100_000)}`],
    ['braces', `{ ${'a { '.repeat(100_000)}`],
  ])('ends 100 000 nested %s in QueryTooComplexError, never a RangeError', (_, source) => {
    // Over the defaults it is refused unread; with room for its bytes, the token limit or the parser's recursion stops it.
    expect(thrown(() => parseBounded(source, DEFAULT_LIMITS))).toMatchObject({ limit: 'maxDocumentBytes' });
    const stopped = thrown(() => parseBounded(source, { ...DEFAULT_LIMITS, maxDocumentBytes: 10_000_000 }));
    expect(stopped).toBeInstanceOf(QueryTooComplexError);
    expect(['maxTokens', 'maxDepth']).toContain((stopped as QueryTooComplexError).limit);
    // With the token limit out of the way, the parser's recursion is what gives out: reported as depth.
    const deep = thrown(() => parseBounded(source, { ...DEFAULT_LIMITS, maxTokens: 10_000_000, maxDocumentBytes: 10_000_000 })) as QueryTooComplexError;
    expect(deep.extensions).toMatchObject({ limit: 'maxDepth', max: DEFAULT_LIMITS.maxDepth });
    expect(deep.value).toBeGreaterThanOrEqual(100_000); // the brackets' nesting, read by the lexer
  });
});

describe('limitRules', () => {
  it('refuses a query deeper than maxDepth, counting fields through fragments and introspection', () => {
    const source = '{ person(idNumber: "x") { ...P } } fragment P on Person { properties { ... on Property { owners { share } } } }';
    expect(measured(source, 'maxDepth')).toBe(4);
    expect(refusalOf(source, { maxDepth: 3 }).extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', value: 4, max: 3 });
    expect(refusals(source, { maxDepth: 4 })).toEqual([]);
    expect(measured('{ __schema { types { fields { type { ofType { name } } } } } }', 'maxDepth')).toBe(6);
  });

  it('refuses more aliases than maxAliases, in the operation and its fragments', () => {
    const source = '{ a: person(idNumber: "x") { ...P } b: person(idNumber: "y") { ...P } } fragment P on Person { i: idNumber g: gender }';
    expect(refusalOf(source, { maxAliases: 3 }).extensions).toMatchObject({ limit: 'maxAliases', value: 4, max: 3 });
    expect(refusals(source, { maxAliases: 4 })).toEqual([]);
  });

  it('refuses more root fields than maxRootFields, counting response keys of each operation', () => {
    const roots = Array.from({ length: 6 }, (_, i) => `p${i}: person(idNumber: "${i}") { idNumber }`).join(' ');
    expect(refusalOf(`query A { ${roots} } query B { person(idNumber: "x") { idNumber } }`, { maxRootFields: 5 }).extensions).toMatchObject({ limit: 'maxRootFields', value: 6, max: 5 });
    // The same key twice is one field of the reply.
    expect(refusals('{ person(idNumber: "x") { idNumber } person(idNumber: "x") { gender } ...Q } fragment Q on Query { person(idNumber: "x") { name } }', { maxRootFields: 1 })).toEqual([]);
  });

  it('estimates the result size as the product of @listSize bounds along each path, summed', () => {
    const bounds = listBoundsOf(schema);
    const properties = bounds.get('Person.properties')!;
    const owners = bounds.get('Property.owners')!;
    const mortgages = bounds.get('Property.mortgages')!;
    const source = '{ person(idNumber: "x") { properties { owners { share } mortgages { status } } enterprises { name } } }';
    const expected = properties + properties * owners + properties * mortgages + bounds.get('Person.enterprises')!;
    expect(measured(source, 'maxEstimatedResults')).toBe(expected);
    expect(refusalOf(source, { maxEstimatedResults: expected - 1 }).extensions).toMatchObject({ limit: 'maxEstimatedResults', value: expected, max: expected - 1 });
    expect(refusals(source, { maxEstimatedResults: expected })).toEqual([]);
  });

  it('counts a root list by the identifiers given, literally or as a variable, else by its cap', () => {
    const per = 1 + listBoundsOf(schema).get('Person.properties')!;
    expect(measured('{ people(idNumbers: ["a", "b", "c"]) { properties { unitNumber } } }', 'maxEstimatedResults')).toBe(3 * per);
    expect(measured('{ people(idNumbers: "a") { properties { unitNumber } } }', 'maxEstimatedResults')).toBe(per);
    const withVariable = 'query($ids: [ID!]!) { people(idNumbers: $ids) { properties { unitNumber } } }';
    expect(measured(withVariable, 'maxEstimatedResults', { ids: ['a', 'b'] })).toBe(2 * per);
    expect(measured(withVariable, 'maxEstimatedResults')).toBe(MAX_IDS_PER_ARGUMENT * per);
    expect(measured(withVariable, 'maxEstimatedResults', { ids: Array.from({ length: 500 }, String) })).toBe(MAX_IDS_PER_ARGUMENT * per);
  });

  it('counts contributions by the months asked, five insurance types a month, and an audit page by first', () => {
    expect(measured('{ person(idNumber: "x") { socialInsurance { contributions(last: 6) { period } } } }', 'maxEstimatedResults')).toBe(30);
    expect(measured('{ person(idNumber: "x") { socialInsurance { contributions { period } } } }', 'maxEstimatedResults')).toBe(60); // default last: 12
    expect(measured('{ accessLog(first: 20) { edges { node { seq } } } }', 'maxEstimatedResults')).toBe(20);
    expect(measured('query($n: Int) { accessLog(first: $n) { edges { node { seq } } } }', 'maxEstimatedResults')).toBe(MAX_PAGE_SIZE);
    expect(measured('{ accessLog { edges { node { seq } } } }', 'maxEstimatedResults')).toBe(50); // default first: 50
  });

  it('takes fragment cycles, unknown fields and unknown fragments without crashing or looping', () => {
    const cyclic = '{ person(idNumber: "x") { ...A } } fragment A on Person { properties { owners { owner { ...B } } } } fragment B on Person { ...A }';
    expect(() => refusals(cyclic, DEFAULT_LIMITS)).not.toThrow();
    expect(measured(cyclic, 'maxDepth')).toBe(4);
    const unknown = '{ nope { deeper { x } } person(idNumber: "x") { shoeSize { y } ...Missing ... on Nothing { z } } }';
    expect(() => refusals(unknown, DEFAULT_LIMITS)).not.toThrow();
    expect(measured(unknown, 'maxDepth')).toBe(3);
    expect(() => validate(schema, parse('subscription { x }'), limitRules(DEFAULT_LIMITS))).not.toThrow();
  });

  it('estimates fragments spread into each other exponentially without doing exponential work', () => {
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Property { ${i === 39 ? 'owners { share }' : `...F${i + 1} owners { ...F${i + 1} }`} }`).join('\n');
    const started = Date.now();
    const errors = refusals(`{ property(unitNumber: "u") { ...F0 } }\n${fragments}`, DEFAULT_LIMITS);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.map((e) => e.limit)).toContain('maxEstimatedResults');
  });

  it('refuses the 1.3 KB depth-16 cyclic query by depth and by estimated size', () => {
    const source = cyclicQuery();
    expect(Buffer.byteLength(source)).toBeGreaterThan(1200);
    expect(Buffer.byteLength(source)).toBeLessThan(1400);
    expect(validate(schema, parse(source))).toEqual([]); // a valid query of the hub's schema
    const errors = validate(schema, parseBounded(source, DEFAULT_LIMITS), limitRules(DEFAULT_LIMITS)) as QueryTooComplexError[];
    expect(errors.map((e) => e.extensions)).toEqual([
      { code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', value: 16, max: DEFAULT_LIMITS.maxDepth },
      { code: 'QUERY_TOO_COMPLEX', limit: 'maxEstimatedResults', value: expect.any(Number), max: DEFAULT_LIMITS.maxEstimatedResults },
    ]);
    expect(errors[1]!.value).toBeGreaterThan(1_000_000);
    expect(errors[0]!.message).toBe(`Query depth 16 exceeds the limit of ${DEFAULT_LIMITS.maxDepth} (maxDepth).`);
  });

  it('lets the worked queries of src/cli/examples.ts through with the defaults, with or without their variables', () => {
    for (const source of [PROPERTY_TRANSFER_QUERY, LIVING_ALLOWANCE_QUERY]) {
      const document = parseBounded(source, DEFAULT_LIMITS);
      expect(validate(schema, document)).toEqual([]);
      expect(validate(schema, document, limitRules(DEFAULT_LIMITS))).toEqual([]);
      expect(validate(schema, document, limitRules(DEFAULT_LIMITS, { variables: { family: ['a', 'b', 'c', 'd', 'e'] } }))).toEqual([]);
    }
  });
});

describe('@listSize', () => {
  it('is declared on every list field of the hub schema', () => {
    expect(unboundedLists(schema)).toEqual([]);
  });

  it('names a list field that lacks it', () => {
    const extra = 'extend type Person { nicknames: [String!] @share(class: UNCONDITIONAL, department: "shared", updateCycle: REAL_TIME) }';
    expect(unboundedLists(makeExecutableSchema({ typeDefs: [...loadTypeDefs(), extra] }))).toEqual(['Person.nicknames']);
  });

  it('bounds root lists by the identifier cap and audit pages by the page-size cap', () => {
    const bounds = listBoundsOf(schema);
    for (const root of ['Query.people', 'Query.enterprises', 'Query.properties']) expect(bounds.get(root)).toBe(MAX_IDS_PER_ARGUMENT);
    expect(bounds.get('AccessRecordConnection.edges')).toBe(MAX_PAGE_SIZE);
    expect(bounds.get('CitizenAccessConnection.edges')).toBe(MAX_PAGE_SIZE);
  });

  it('is read once per schema: a caller changing the map it got changes nothing', () => {
    listBoundsOf(schema).set('Person.properties', 1);
    expect(listBoundsOf(schema).get('Person.properties')).toBeGreaterThan(1);
  });

  it('refuses a bound that is not a positive integer, naming the field', () => {
    const bad = 'extend type Person { nicknames: [String!] @listSize(max: 0) @share(class: UNCONDITIONAL, department: "shared", updateCycle: REAL_TIME) }';
    expect(() => listBoundsOf(makeExecutableSchema({ typeDefs: [...loadTypeDefs(), bad] }))).toThrow('Person.nicknames: @listSize(max:) must be a positive integer');
  });
});

describe('resolveLimits', () => {
  it("lays a consumer's overrides over the defaults", () => {
    expect(resolveLimits({ maxDepth: 15 })).toEqual({ ...DEFAULT_LIMITS, maxDepth: 15 });
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
  });
});
