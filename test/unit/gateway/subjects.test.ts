/**
 * Subjects from the reply (src/gateway/subjects.ts): every entity a reply carries is recorded
 * where it is resolved, whatever field reached it; under a purpose that requires consent, a person
 * reached through a link without a consent of theirs is withheld (null, MISSING_CONSENT) and no
 * field of theirs is resolved.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, parse } from 'graphql';
import type { SubjectRef } from '../../../src/audit';
import { subjectRecordingSchema } from '../../../src/gateway/subjects';

const typeDefs = `
  type Query { person(idNumber: ID!): Person, property(unitNumber: ID!): Property }
  type Person { idNumber: ID!, name: String }
  type Enterprise { creditCode: ID!, name: String }
  union Party = Person | Enterprise
  type Ownership { owner: Party }
  type Property { unitNumber: ID!, owners: [Ownership!], seller: Party }
`;
const resolved: string[] = [];
const schema = subjectRecordingSchema(
  makeExecutableSchema({
    typeDefs,
    resolvers: {
      Query: {
        person: (_: unknown, { idNumber }: { idNumber: string }) => ({ idNumber }),
        property: (_: unknown, { unitNumber }: { unitNumber: string }) => ({ unitNumber }),
      },
      Party: { __resolveType: (o: { idNumber?: string }) => (o.idNumber ? 'Person' : 'Enterprise') },
      Person: { name: (p: { idNumber: string }) => (resolved.push(p.idNumber), `name of ${p.idNumber}`) },
      Property: {
        owners: () => [{ owner: { idNumber: 'P-OWNER' } }, { owner: { creditCode: 'E-OWNER' } }],
        seller: async () => ({ idNumber: 'P-SELLER' }),
      },
    },
  }),
);

async function run(query: string, consentedPersons?: ReadonlySet<string>) {
  resolved.length = 0;
  const context = { replySubjects: new Map<string, SubjectRef>(), decision: consentedPersons ? { consentedPersons } : null };
  const result = JSON.parse(JSON.stringify(await execute({ schema, document: parse(query), contextValue: context })));
  return { result, subjects: [...context.replySubjects.keys()].sort() };
}

const QUERY = '{ property(unitNumber: "U1") { owners { owner { ... on Person { n: name } ... on Enterprise { n: name } } } s: seller { ... on Person { name } } } }';

describe('subjects from the reply', () => {
  it('records every entity the reply carries, through links, unions, lists and aliases', async () => {
    const { result, subjects } = await run(QUERY);
    expect(result.errors).toBeUndefined();
    expect(subjects).toEqual(['ENTERPRISE:E-OWNER', 'PERSON:P-OWNER', 'PERSON:P-SELLER', 'PROPERTY:U1']);
  });

  it('records the root subject too', async () => {
    expect((await run('{ person(idNumber: "P1") { name } }')).subjects).toEqual(['PERSON:P1']);
  });
});

describe('under a purpose that requires consent', () => {
  it('withholds a linked person without consent: null, MISSING_CONSENT, none of their fields resolved', async () => {
    const { result, subjects } = await run(QUERY, new Set(['P-OWNER']));
    expect(result.data.property.owners[0].owner).toEqual({ n: 'name of P-OWNER' });
    expect(result.data.property.owners[1].owner).toEqual({ n: null });
    expect(result.data.property.s).toBeNull();
    expect(result.errors).toEqual([expect.objectContaining({ path: ['property', 's'], extensions: expect.objectContaining({ code: 'MISSING_CONSENT' }) })]);
    expect(resolved).toEqual(['P-OWNER']);
    // Withheld, but reached: the access record still names them.
    expect(subjects).toContain('PERSON:P-SELLER');
  });

  it('never withholds a person named at the root (the consent stage has checked them)', async () => {
    const { result } = await run('{ person(idNumber: "P1") { name } }', new Set());
    expect(result.data.person).toEqual({ name: 'name of P1' });
  });
});
