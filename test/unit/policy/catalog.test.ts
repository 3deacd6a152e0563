import { graphql, type GraphQLSchema } from 'graphql';
import { buildHubSchema } from '../../../src/gateway/schema';
import { createPolicyEngine, createPolicyResolvers, DEMO_POLICY, type PolicyEngine } from '../../../src/policy';
import { createHubContext, defineConnector, type HubContext } from '../../../src/sdk';
import { NOW } from './helpers';

// As the lead will wire it: the policy resolvers merged into the hub schema, the engine built over that schema.
let engine: PolicyEngine;
const policyResolvers = createPolicyResolvers(() => engine, { consumerOf: (context) => (context as HubContext & { consumer: string }).consumer });
const schema: GraphQLSchema = buildHubSchema([
  defineConnector({ id: 'policy', title: 'policy', createLoaders: () => ({}), resolvers: () => policyResolvers, probe: async () => undefined }),
]);
engine = createPolicyEngine({ schema, policy: DEMO_POLICY, now: () => NOW });

async function run(consumer: string, source: string): Promise<any> {
  const contextValue = Object.assign(createHubContext({ requestId: 't', signal: new AbortController().signal }), { consumer });
  const result = await graphql({ schema, source, contextValue });
  expect(result.errors).toBeUndefined();
  return result.data;
}

describe('the catalogue', () => {
  it('lists each data item with its department, class, purposes, update cycle and description', async () => {
    const data = await run('auditor', '{ catalog { coordinate department class purposes sensitivity updateCycle description } }');
    expect(data.catalog).toContainEqual({
      coordinate: 'Property.mortgages',
      department: 'real-estate',
      class: 'CONDITIONAL',
      purposes: ['PROPERTY_TRANSFER', 'INVESTIGATION'],
      sensitivity: null,
      updateCycle: 'REAL_TIME',
      description: 'Mortgages 抵押, active and released.',
    });
    expect(data.catalog).toContainEqual(expect.objectContaining({ coordinate: 'Taxpayer.taxpayerId', class: 'NOT_SHARED', description: 'Taxpayer.taxpayerId' }));
    expect(data.catalog.map((e: { coordinate: string }) => e.coordinate)).not.toContain('Query.catalog');
  });

  it('filters by department and class', async () => {
    const data = await run('auditor', '{ catalog(department: "tax", class: NOT_SHARED) { coordinate } }');
    expect(data.catalog).toEqual([{ coordinate: 'Taxpayer.taxpayerId' }]);
  });
});

describe('myGrants', () => {
  it('tells the caller what it may request, for which purposes, and what is masked', async () => {
    const data = await run('civil-affairs', '{ myGrants { consumer roles fields { coordinate department class purpose masked validTo } purposes { code requiresConsent confidential } } }');
    expect(data.myGrants.consumer).toBe('civil-affairs');
    expect(data.myGrants.roles).toEqual(['consumer']);
    expect(data.myGrants.fields).toContainEqual({ coordinate: 'Enterprise.name', department: 'market-regulation', class: 'UNCONDITIONAL', purpose: null, masked: false, validTo: null });
    expect(data.myGrants.fields).toContainEqual({ coordinate: 'Property.address', department: 'real-estate', class: 'CONDITIONAL', purpose: 'LIVING_ALLOWANCE', masked: true, validTo: null });
    expect(data.myGrants.purposes).toEqual([{ code: 'LIVING_ALLOWANCE', requiresConsent: true, confidential: false }]);
  });

  it('shows one purpose when asked, with the end of a time-limited grant', async () => {
    const data = await run('tax-bureau', '{ myGrants(purpose: "INVESTIGATION") { fields { coordinate purpose validTo } purposes { code confidential } } }');
    expect(data.myGrants.fields).toContainEqual({ coordinate: 'Transfer.price', purpose: 'INVESTIGATION', validTo: '2027-12-31T16:00:00.000Z' });
    expect(data.myGrants.fields.every((f: { purpose: string }) => f.purpose === 'INVESTIGATION')).toBe(true);
    expect(data.myGrants.purposes).toEqual([{ code: 'INVESTIGATION', confidential: true }]);
  });

  it('holds only the access log and its proofs for the auditor', async () => {
    const data = await run('auditor', '{ myGrants { roles fields { coordinate } } }');
    expect(data.myGrants.roles).toEqual(['auditor']);
    const coordinates: string[] = data.myGrants.fields.map((f: { coordinate: string }) => f.coordinate);
    expect(coordinates).toContain('Query.accessLog');
    expect(coordinates).toEqual(expect.arrayContaining(['Query.auditHeads', 'Query.auditProof', 'Query.auditConsistency']));
    expect(coordinates.filter((c) => !/^(Query\.(accessLog|auditHeads|auditProof|auditConsistency)|AccessRecord|AccessSubject|AccessChange|AccessOnBehalfOf|DepartmentFields|PageInfo|AuditTreeHead|AuditInclusionProof|AuditConsistencyProof)/.test(c))).toEqual([]);
  });
});
