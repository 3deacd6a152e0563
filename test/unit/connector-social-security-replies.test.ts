/**
 * The social security connector's hand-written reply readers against its zod schemas: every reply
 * the schemas accept is read to the same output, and whatever a reader accepts the schema
 * accepts too, with the same output; a reply a reader leaves (undefined) goes to the schema.
 */
import fc from 'fast-check';
import { readEmployerBatch, readInsuredBatch } from '../../connectors/social-security/fast-replies';
import { employerBatchReplySchema, insuredBatchReplySchema } from '../../connectors/social-security/schemas';
import { mutated } from '../support/reply-mutations';

const contribution = fc.record({
  period: fc.constantFrom('2024-01', '2023-12', ''),
  insuranceType: fc.constantFrom('PENSION', 'MEDICAL', 'UNEMPLOYMENT', 'WORK_INJURY', 'MATERNITY'),
  base: fc.double({ noNaN: true, noDefaultInfinity: true }),
  amount: fc.integer(),
  employerCreditCode: fc.option(fc.string({ maxLength: 4 })),
});
const insured = fc.record({
  idNumber: fc.string({ maxLength: 6 }),
  name: fc.string({ maxLength: 4 }),
  scheme: fc.constantFrom('EMPLOYEE', 'RESIDENT'),
  status: fc.constantFrom('ACTIVE', 'SUSPENDED', 'RETIRED'),
  employerCreditCode: fc.option(fc.string({ maxLength: 4 })),
  insuredSince: fc.string({ maxLength: 4 }),
  contributions: fc.array(contribution, { maxLength: 5 }),
});
const account = fc.record({
  creditCode: fc.string({ maxLength: 6 }),
  accountNumber: fc.string({ maxLength: 6 }),
  status: fc.constantFrom('ACTIVE', 'SUSPENDED', 'CLOSED'),
  openedAt: fc.string({ maxLength: 4 }),
  employeeCount: fc.nat(),
  arrears: fc.double({ noNaN: true, noDefaultInfinity: true }),
});
const batch = <T>(item: fc.Arbitrary<T>) => fc.record({ items: fc.array(item, { maxLength: 3 }), notFound: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }) });

/** A JSON value with one property somewhere replaced, removed or added. */

describe('social security reply readers', () => {
  it.each([
    ['insured', readInsuredBatch, insuredBatchReplySchema, batch(insured)],
    ['employers', readEmployerBatch, employerBatchReplySchema, batch(account)],
  ] as const)('read every valid %s reply as the schema does', (_, read, schema, valid) => {
    fc.assert(
      fc.property(valid as fc.Arbitrary<unknown>, (data) => {
        expect(read(data)).toEqual(schema.parse(data));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['insured', readInsuredBatch, insuredBatchReplySchema, batch(insured)],
    ['employers', readEmployerBatch, employerBatchReplySchema, batch(account)],
  ] as const)('accept only what the schema accepts, with its output (%s)', (_, read, schema, valid) => {
    fc.assert(
      fc.property(mutated(valid as fc.Arbitrary<unknown>), (data) => {
        const fast = read(data);
        if (fast === undefined) return;
        const parsed = schema.safeParse(data);
        expect(parsed.success).toBe(true);
        expect(fast).toEqual(parsed.data);
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves replies of the wrong shape to the schema', () => {
    const person = { idNumber: '1', name: 'n', scheme: 'EMPLOYEE', status: 'ACTIVE', employerCreditCode: null, insuredSince: '2020-01', contributions: [] };
    expect(readInsuredBatch({ items: [person], notFound: [] })).toEqual({ items: [person], notFound: [] });
    expect(readInsuredBatch({ items: [{ ...person, extra: 1 }], notFound: [] })).toEqual({ items: [person], notFound: [] });
    for (const bad of [null, [], { items: [] }, { items: [{ ...person, scheme: 'OTHER' }], notFound: [] }, { items: [person], notFound: [1] }]) {
      expect(readInsuredBatch(bad)).toBeUndefined();
    }
    expect(readEmployerBatch({ items: [{ creditCode: 'c', accountNumber: 'a', status: 'ACTIVE', openedAt: 'x', employeeCount: 1.5, arrears: 0 }], notFound: [] })).toBeUndefined();
  });
});
