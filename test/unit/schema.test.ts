import { graphql } from 'graphql';
import { buildHubSchema } from '../../src/gateway/schema';
import { createHubContext, defineConnector, type Connector, type Resolvers } from '../../src/sdk';

function fakeConnector(id: string, resolvers: Resolvers): Connector {
  return defineConnector({ id, title: id, createLoaders: () => ({}), resolvers: () => resolvers, probe: async () => undefined });
}

const context = () => createHubContext({ requestId: 't', signal: new AbortController().signal });

describe('the executable schema', () => {
  it('refuses a connector resolver for a field the schema does not have', () => {
    const bad = fakeConnector('tax', { Person: { shoeSize: () => 42 } } as unknown as Resolvers);
    expect(() => buildHubSchema([bad])).toThrow(/Person\.shoeSize/);
  });

  it('refuses a field resolved by two connectors', () => {
    const a = fakeConnector('tax', { Person: { taxRecords: () => null } });
    const b = fakeConnector('social-security', { Person: { taxRecords: () => null } });
    expect(() => buildHubSchema([a, b])).toThrow('Person.taxRecords is resolved by both "tax" and "social-security"');
  });

  it('refuses a connector id that is not kebab-case', () => {
    expect(() => fakeConnector('RealEstate', {})).toThrow('Connector id must be kebab-case, but got: "RealEstate"');
  });

  it('reads gender and birth date from the identity number without asking a department', async () => {
    const schema = buildHubSchema([]);
    const result = await graphql({ schema, source: '{ person(idNumber: "11010519491231002X") { gender birthDate } }', contextValue: context() });
    expect(result).toEqual({ data: { person: { gender: 'FEMALE', birthDate: '1949-12-31' } } });
  });

  it('answers people in the order of the identifiers given', async () => {
    const schema = buildHubSchema([]);
    const ids = ['11010519491231002X', '370811199104139443'];
    const result = await graphql({ schema, source: 'query($ids: [ID!]!) { people(idNumbers: $ids) { idNumber } }', variableValues: { ids }, contextValue: context() });
    expect(result.data).toEqual({ people: ids.map((idNumber) => ({ idNumber })) });
  });
});
