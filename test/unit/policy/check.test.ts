import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse } from 'graphql';
import { LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY } from '../../../src/cli/examples';
import { loadTypeDefs } from '../../../src/gateway/schema';
import { createPolicyEngine, DEMO_POLICY, PolicyDeniedError, type Decision, type DeniedDecision } from '../../../src/policy';
import { HubErrorCode } from '../../../src/sdk';
import { NOW, demoEngine, fakeConsent, fakeVerifier, runAsHub, stubSchema } from './helpers';

const { schema, calls } = stubSchema();
const engine = demoEngine(schema);

function denied(decision: Decision): DeniedDecision {
  if (decision.allowed) throw new Error('expected a denial');
  return decision;
}

async function deniedCoordinates(consumer: string, purpose: string | null, document: string, variables?: Record<string, unknown>): Promise<readonly string[]> {
  return denied(await engine.check({ consumer, purpose, document, ...(variables ? { variables } : {}) })).denied;
}

beforeEach(() => {
  calls.length = 0;
});

describe('the worked queries', () => {
  it('allows the property-transfer query to the real-estate centre for PROPERTY_TRANSFER', async () => {
    const { decision, result } = await runAsHub(engine, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: PROPERTY_TRANSFER_QUERY,
      variables: { unitNumber: 'U1', seller: 'E1', buyer: 'P1' },
    });
    expect(decision.allowed).toBe(true);
    expect(result?.errors).toBeUndefined();
    if (!decision.allowed) return;
    expect(decision.departments).toEqual(['market-regulation', 'real-estate', 'social-security', 'tax']);
    expect(decision.reads['tax']).toEqual(expect.arrayContaining(['Enterprise.taxStatus', 'Person.taxRecords', 'TaxPayment.voucherNumber']));
    expect(decision.masked).toEqual([]);
    expect(decision.subjects).toEqual([
      { kind: 'property', id: 'U1', at: 'property.unitNumber' },
      { kind: 'enterprise', id: 'E1', at: 'seller.creditCode' },
      { kind: 'person', id: 'P1', at: 'buyer.idNumber' },
    ]);
  });

  it('allows the living-allowance query to civil affairs with a consent for every family member, masking addresses', async () => {
    const family = ['P1', 'P2', 'P3'];
    const { decision, result, masked } = await runAsHub(engine, {
      consumer: 'civil-affairs',
      purpose: 'LIVING_ALLOWANCE',
      document: LIVING_ALLOWANCE_QUERY,
      variables: { family },
      consents: family.map((id) => fakeConsent(id, 'LIVING_ALLOWANCE')),
    });
    expect(decision.allowed).toBe(true);
    expect(result?.errors).toBeUndefined();
    if (!decision.allowed) return;
    expect(decision.masked).toEqual(['Property.address']);
    expect(decision.consents.map((c) => c.subject)).toEqual(['people.idNumbers[0]', 'people.idNumbers[1]', 'people.idNumbers[2]']);
    expect(masked).toContainEqual(['people', 0, 'properties', 1, 'address']);
    const people = (result!.data as { people: { properties: { address: string }[] }[] }).people;
    expect(people[0]!.properties[0]!.address).toBe('山东省菏泽市牡丹区');
  });

  it('names no subject for an argument whose variable was not sent, nor for one sent null', async () => {
    const document = 'query($seller: ID, $buyer: ID) { seller: enterprise(creditCode: $seller) { name } buyer: person(idNumber: $buyer) { name } }';
    for (const variables of [{ seller: 'E1' }, { seller: 'E1', buyer: null }]) {
      const decision = await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document, variables });
      expect(decision.subjects).toEqual([{ kind: 'enterprise', id: 'E1', at: 'seller.creditCode' }]);
    }
  });

  it('denies the living-allowance query without consents, naming each family member by position', async () => {
    const decision = denied(
      await engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: LIVING_ALLOWANCE_QUERY, variables: { family: ['P1', 'P2'] } }),
    );
    expect(decision.denied).toEqual([]);
    expect(decision.error.extensions).toEqual({
      code: 'POLICY_DENIED',
      denied: [],
      missingConsent: [
        { subject: 'people.idNumbers[0]', purpose: 'LIVING_ALLOWANCE', reason: 'absent' },
        { subject: 'people.idNumbers[1]', purpose: 'LIVING_ALLOWANCE', reason: 'absent' },
      ],
      http: { status: 403 },
    });
  });

  it('denies the property-transfer query to civil affairs, listing every denied coordinate', async () => {
    const decision = denied(
      await engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: PROPERTY_TRANSFER_QUERY, variables: { unitNumber: 'U1', seller: 'E1', buyer: 'P1' } }),
    );
    expect(decision.denied).toEqual([
      'AbnormalOperation.listedAt', 'AbnormalOperation.reason', 'AbnormalOperation.removedAt',
      'Enterprise.abnormalOperations', 'Enterprise.taxStatus',
      'Mortgage.amount', 'Mortgage.mortgagee', 'Mortgage.registrationNumber', 'Mortgage.status',
      'Ownership.kind', 'Ownership.owner', 'Ownership.share',
      'Property.certificateNumber', 'Property.mortgages', 'Property.owners', 'Property.seizures', 'Property.transfers',
      'Query.enterprise', 'Query.property',
      'Seizure.caseNumber', 'Seizure.court', 'Seizure.seizureNumber', 'Seizure.status',
      'TaxPayment.property', 'TaxPayment.voucherNumber',
      'Taxpayer.creditRating', 'Taxpayer.hasArrears',
      'Transfer.date', 'Transfer.from', 'Transfer.price', 'Transfer.to',
    ]);
    expect(decision.error).toBeInstanceOf(PolicyDeniedError);
    expect(decision.error.extensions['code']).toBe(HubErrorCode.POLICY_DENIED);
    expect(decision.error.message).toBe(`The sharing policy denies ${decision.denied.join(', ')} to this consumer for this purpose. No valid consent of the person concerned for buyer.idNumber (absent).`);
  });
});

describe('a bypass attempt', () => {
  it('is refused through a fragment spread on the Party union', async () => {
    const document = `{ property(unitNumber: "U1") { owners { owner { ...Who } } } }
      fragment Who on Party { __typename ... on Person { socialInsurance { status } } }`;
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document)).toEqual(['Person.socialInsurance', 'SocialInsurance.status']);
    expect(calls).toEqual([]);
  });

  it('is refused through a named fragment nested in an inline fragment', async () => {
    const document = `{ property(unitNumber: "U1") { transfers { to { ... on Person { ...More } } } } }
      fragment More on Person { properties { unitNumber } }`;
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document)).toEqual(['Person.properties']);
  });

  it('is refused through an alias that names an allowed field', async () => {
    const document = '{ person(idNumber: "P1") { idNumber name: socialInsurance { scheme } } }';
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document)).toEqual(['Person.socialInsurance', 'SocialInsurance.scheme']);
  });

  it('is refused when an @include variable would hide the field', async () => {
    const document = 'query($yes: Boolean! = false) { person(idNumber: "P1") { idNumber socialInsurance @include(if: $yes) { scheme } } }';
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document, { yes: false })).toEqual(['Person.socialInsurance', 'SocialInsurance.scheme']);
    expect(calls).toEqual([]);
  });

  it('is refused when @skip(if: true) would hide the field', async () => {
    const document = '{ person(idNumber: "P1") { idNumber ... @skip(if: true) { socialInsurance { scheme } } } }';
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document)).toEqual(['Person.socialInsurance', 'SocialInsurance.scheme']);
  });

  it('is refused through an inline fragment on an interface, checking every implementation', async () => {
    const typeDefs = [
      ...loadTypeDefs(),
      `interface Holder { name: String @share(class: UNCONDITIONAL, department: "shared", updateCycle: REAL_TIME) }
       extend type Person implements Holder
       extend type Enterprise implements Holder
       extend type Query { holder(idNumber: ID!): Holder @share(class: UNCONDITIONAL, department: "shared", updateCycle: REAL_TIME) }`,
    ];
    const withInterface = makeExecutableSchema({ typeDefs, resolverValidationOptions: { requireResolversForResolveType: 'ignore' } });
    const policy = structuredClone(DEMO_POLICY);
    policy.consumers.push({ id: 'registry-reader', name: 'test', roles: ['consumer'], grants: [{ fields: ['Query.holder', 'Enterprise.name'] }] });
    const e = createPolicyEngine({ schema: withInterface, policy, now: () => NOW });
    const check = async (document: string) => e.check({ consumer: 'registry-reader', document });
    expect(denied(await check('{ holder(idNumber: "P1") { name } }')).denied).toEqual(['Person.name']);
    expect(denied(await check('{ holder(idNumber: "P1") { ... on Holder { name } } }')).denied).toEqual(['Person.name']);
    expect(denied(await check('{ holder(idNumber: "P1") { ...H } } fragment H on Holder { name }')).denied).toEqual(['Person.name']);
    expect((await check('{ holder(idNumber: "P1") { __typename ... on Enterprise { name } } }')).allowed).toBe(true);
    // The filtered schema stays valid: the interface loses the field that one implementation lost.
    expect(e.schemaFor('registry-reader').getType('Holder')).toBeUndefined();
  });

  it('is harmless through __typename: always allowed, under any alias, and it reads nothing', async () => {
    const { decision, result } = await runAsHub(engine, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: '{ __typename person(idNumber: "P1") { socialInsurance: __typename taxRecords { __typename } } }',
    });
    expect(decision.allowed).toBe(true);
    expect(result?.data).toEqual({ __typename: 'Query', person: { socialInsurance: 'Person', taxRecords: { __typename: 'Taxpayer' } } });
    expect(calls).toEqual(['Query.person', 'Person.taxRecords']);
  });

  it('is refused for an auditor asking for __typename inside department data', async () => {
    expect(await deniedCoordinates('auditor', null, '{ person(idNumber: "P1") { __typename } }')).toEqual(['Query.person']);
    expect((await engine.check({ consumer: 'auditor', document: '{ __typename }' })).allowed).toBe(true);
  });

  it('is refused through __type of a type the consumer may not see, by literal or variable', async () => {
    const literal = denied(await engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document: '{ __type(name: "Mortgage") { fields { name } } }' }));
    expect(literal.denied).toEqual(['__type(name: "Mortgage")']);
    expect(literal.error.message).toBe('The sharing policy denies __type(name: "Mortgage") to this consumer for this purpose.');
    const variable = denied(
      await engine.check({ consumer: 'civil-affairs', document: 'query($t: String!) { __type(name: $t) { name } }', variables: { t: 'EmployerAccount' } }),
    );
    expect(variable.denied).toEqual(['__type(name: "EmployerAccount")']);
  });

  it('sees only granted fields through __schema and __type, and everything as an admin', async () => {
    const names = async (consumer: string) => {
      const { decision, result } = await runAsHub(engine, { consumer, document: '{ __schema { types { name } } __type(name: "Person") { fields { name } } }' });
      expect(decision.allowed && decision.introspection).toBe(true);
      const data = result!.data as { __schema: { types: { name: string }[] }; __type: { fields: { name: string }[] } | null };
      return { types: data.__schema.types.map((t) => t.name), person: data.__type?.fields.map((f) => f.name).sort() };
    };
    const centre = await names('real-estate-centre');
    expect(centre.types).toContain('Mortgage');
    expect(centre.types).not.toContain('SocialInsurance');
    expect(centre.person).toEqual(['idNumber', 'name', 'providentFund', 'taxRecords']);
    const auditor = denied(await engine.check({ consumer: 'auditor', document: '{ __type(name: "Person") { name } }' }));
    expect(auditor.denied).toEqual(['__type(name: "Person")']);
    const mixed = await runAsHub(engine, {
      consumer: 'real-estate-centre',
      purpose: 'PROPERTY_TRANSFER',
      document: '{ person(idNumber: "P1") { idNumber } __type(name: "Person") { name } }',
    });
    expect(mixed.result).toEqual({ data: { person: { idNumber: '371702199001011234' }, __type: { name: 'Person' } } });
    const admin = await names('hub-admin');
    expect(admin.types).toEqual(expect.arrayContaining(['Mortgage', 'SocialInsurance', 'EmployerAccount']));
    expect(admin.person).toContain('socialInsurance');
  });
});

describe('the check', () => {
  it('never grants a field that is not shared', async () => {
    const document = '{ person(idNumber: "P1") { taxRecords { taxpayerId hasArrears } } }';
    expect(await deniedCoordinates('real-estate-centre', 'PROPERTY_TRANSFER', document)).toEqual(['Taxpayer.taxpayerId']);
    expect(await deniedCoordinates('tax-bureau', 'INVESTIGATION', document)).toEqual(['Person.taxRecords', 'Taxpayer.hasArrears', 'Taxpayer.taxpayerId']);
  });

  it('unlocks a conditional field only for a purpose the grant names', async () => {
    const document = '{ person(idNumber: "P1") { name taxRecords { hasArrears } } }';
    expect((await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document })).allowed).toBe(true);
    expect(await deniedCoordinates('real-estate-centre', 'ENTERPRISE_STARTUP', document)).toEqual(['Person.name', 'Person.taxRecords', 'Query.person', 'Taxpayer.hasArrears']);
    expect(await deniedCoordinates('real-estate-centre', null, document)).toEqual(['Person.name', 'Person.taxRecords', 'Query.person', 'Taxpayer.hasArrears']);
  });

  it('allows unconditional fields under any purpose when the grant names none', async () => {
    const document = '{ people(idNumbers: ["P1"]) { enterprises { creditCode name status registeredCapital } } }';
    const decision = await engine.check({ consumer: 'civil-affairs', purpose: 'LIVING_ALLOWANCE', document, consents: [fakeConsent('P1', 'LIVING_ALLOWANCE')] });
    expect(decision.allowed).toBe(true);
  });

  it('refuses an unregistered purpose and an unknown consumer', async () => {
    const unknownPurpose = denied(await engine.check({ consumer: 'tax-bureau', purpose: 'CURIOSITY', document: '{ enterprise(creditCode: "E1") { name } }' }));
    expect(unknownPurpose.error.message).toBe('Purpose "CURIOSITY" is not registered. The sharing policy denies Enterprise.name, Query.enterprise to this consumer for this purpose.');
    const stranger = denied(await engine.check({ consumer: 'stranger', document: '{ catalog { coordinate } }' }));
    expect(stranger.denied).toEqual([]);
    expect(stranger.error.message).toBe('The consumer has no sharing policy.');
  });

  it('gives no department data to the auditor, but the catalogue', async () => {
    expect(await deniedCoordinates('auditor', null, '{ enterprise(creditCode: "E1") { name } }')).toEqual(['Enterprise.name', 'Query.enterprise']);
    const { decision, result } = await runAsHub(engine, { consumer: 'auditor', document: '{ catalog { coordinate } myGrants { consumer } }' });
    expect(decision.allowed).toBe(true);
    expect(result?.errors).toBeUndefined();
  });

  it('applies grants only inside their validity', async () => {
    const document = '{ person(idNumber: "P1") { properties { transfers { price } } } }';
    const expired = ['Person.properties', 'Property.transfers', 'Query.person', 'Transfer.price'];
    const at = (iso: string) => createPolicyEngine({ schema, policy: DEMO_POLICY, verifyConsent: fakeVerifier, now: () => Date.parse(iso) });
    expect((await at('2025-01-01T00:00:00+08:00').check({ consumer: 'tax-bureau', purpose: 'INVESTIGATION', document })).allowed).toBe(true);
    expect((await at('2027-12-31T23:59:59+08:00').check({ consumer: 'tax-bureau', purpose: 'INVESTIGATION', document })).allowed).toBe(true);
    expect(denied(await at('2028-01-01T00:00:00+08:00').check({ consumer: 'tax-bureau', purpose: 'INVESTIGATION', document })).denied).toEqual(expired);
    expect(denied(await at('2024-12-31T23:59:59+08:00').check({ consumer: 'tax-bureau', purpose: 'INVESTIGATION', document })).denied).toEqual(expired);
  });

  it('re-decides a cached document once a grant expires', async () => {
    let now = Date.parse('2027-12-31T12:00:00+08:00');
    const e = createPolicyEngine({ schema, policy: DEMO_POLICY, now: () => now });
    const request = { consumer: 'tax-bureau', purpose: 'INVESTIGATION', document: '{ person(idNumber: "P1") { name } }' };
    expect((await e.check(request)).allowed).toBe(true);
    expect(e.schemaFor('tax-bureau').getType('Transfer')).toBeDefined();
    now = Date.parse('2028-01-01T00:00:00+08:00');
    expect(denied(await e.check(request)).denied).toEqual(['Person.name', 'Query.person']);
    expect(e.schemaFor('tax-bureau').getType('Transfer')).toBeUndefined();
  });

  it('denies every field of an operation type the graph does not have', async () => {
    expect(await deniedCoordinates('hub-admin', null, 'mutation { deletePerson(idNumber: "P1") }')).toEqual(['Mutation.deletePerson']);
  });

  it('checks the operation that will run, chosen by name', async () => {
    const document = 'query Ok { person(idNumber: "P1") { idNumber } } query NotOk { person(idNumber: "P1") { socialInsurance { scheme } } }';
    expect((await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document, operationName: 'Ok' })).allowed).toBe(true);
    expect((await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document, operationName: 'NotOk' })).allowed).toBe(false);
    await expect(engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document })).rejects.toThrow(
      'Must provide operation name if query contains multiple operations.',
    );
  });

  it('accepts a parsed document as well as its text', async () => {
    const document = parse('{ person(idNumber: "P1") { socialInsurance { scheme } } }');
    expect(denied(await engine.check({ consumer: 'real-estate-centre', purpose: 'PROPERTY_TRANSFER', document })).denied).toEqual([
      'Person.socialInsurance',
      'SocialInsurance.scheme',
    ]);
  });

  it('reads subjects from literals, variables, their defaults, and integers', async () => {
    const document = `query($p: ID! = "P9", $list: [ID!]!) {
      a: person(idNumber: $p) { idNumber } b: people(idNumbers: [$p, "P2"]) { idNumber } c: people(idNumbers: $list) { idNumber }
      d: person(idNumber: 370102) { idNumber } e: people(idNumbers: "P5") { idNumber } }`;
    const decision = await engine.check({ consumer: 'tax-bureau', purpose: 'INVESTIGATION', document, variables: { list: ['P3', 4] } });
    expect(decision.subjects).toEqual([
      { kind: 'person', id: 'P9', at: 'a.idNumber' },
      { kind: 'person', id: 'P9', at: 'b.idNumbers[0]' },
      { kind: 'person', id: 'P2', at: 'b.idNumbers[1]' },
      { kind: 'person', id: 'P3', at: 'c.idNumbers[0]' },
      { kind: 'person', id: '4', at: 'c.idNumbers[1]' },
      { kind: 'person', id: '370102', at: 'd.idNumber' },
      { kind: 'person', id: 'P5', at: 'e.idNumbers' },
    ]);
  });

  it('refuses an operation that selects too many fields', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => `a${i}: catalog { coordinate }`).join(' ');
    await expect(engine.check({ consumer: 'auditor', document: `{ ${many} }` })).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'The operation selects more than 10000 fields.',
    });
  });

  it('walks a fragment spread many times over only once per place', async () => {
    const levels = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join('\n');
    const document = `{ ...F0 }\n${levels}\nfragment F30 on Query { catalog { coordinate } }`;
    expect((await engine.check({ consumer: 'auditor', document })).allowed).toBe(true);
  });
});
