import type { AuditRecordInput } from '../../../src/audit';
import { MAX_NAMED_SUBJECTS, namedSubjects } from '../../../src/gateway/named-subjects';
import { createRefusalAggregator } from '../../../src/gateway/refusals';

const body = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

describe('the subjects a refused request names', () => {
  it('reads identifier arguments of root fields, as literals or variables, of the operation named', () => {
    const query = 'query A($p: ID!) { person(idNumber: $p) { name } e: enterprise(creditCode: "91370000X") { name } } query B { property(unitNumber: "U-1") { address } }';
    expect(namedSubjects(body({ query, variables: { p: '370102199001011234' }, operationName: 'A' }))).toEqual([
      { kind: 'PERSON', id: '370102199001011234' },
      { kind: 'ENTERPRISE', id: '91370000X' },
    ]);
    expect(namedSubjects(body({ query, operationName: 'B' }))).toEqual([{ kind: 'PROPERTY', id: 'U-1' }]);
  });

  it('reads nothing from what is not a GraphQL request, and at most a bounded number of identifiers', () => {
    expect(namedSubjects(undefined)).toEqual([]);
    expect(namedSubjects(Buffer.from('not json'))).toEqual([]);
    expect(namedSubjects(body({ query: '{ person(idNumber: ' }))).toEqual([]);
    expect(namedSubjects(body({ query: '{ person(idNumber: 42) { name } }' }))).toEqual([]);
    const many = Array.from({ length: 50 }, (_, i) => `p${i}: person(idNumber: "ID${i}") { name }`).join(' ');
    expect(namedSubjects(body({ query: `{ ${many} }` }))).toHaveLength(MAX_NAMED_SUBJECTS);
    expect(namedSubjects(Buffer.alloc(100 * 1024, 0x20))).toEqual([]);
  });

  it('keeps the reason and the named subjects in the refusal aggregate, one bucket per distinct pair', async () => {
    let clock = Date.parse('2025-06-01T09:00:00.250Z');
    const written: AuditRecordInput[] = [];
    const a = createRefusalAggregator({ append: async (r) => void written.push(r), now: () => clock });
    const person = { kind: 'PERSON' as const, id: '370102199001011234' };
    a.refuse('203.0.113.7', 'UNAUTHENTICATED', { reason: 'BAD_SIGNATURE', subjects: [person] });
    a.refuse('203.0.113.7', 'UNAUTHENTICATED', { reason: 'BAD_SIGNATURE', subjects: [person] });
    a.refuse('203.0.113.7', 'UNAUTHENTICATED', { reason: 'MISSING' });
    clock += 1000;
    await a.close();
    expect(written.map((r) => [r.errorCodes, r.subjects, r.count])).toEqual([
      [['BAD_SIGNATURE', 'UNAUTHENTICATED'], [person], 2],
      [['MISSING', 'UNAUTHENTICATED'], [], 1],
    ]);
  });
});
