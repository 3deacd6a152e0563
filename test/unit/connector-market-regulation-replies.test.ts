/**
 * The market-regulation connector's hand-written reader of the enterprise batch reply against its
 * zod schema: on generated and corrupted replies it answers exactly when the schema accepts, with
 * the schema's output; a reply it leaves (undefined) goes to the schema, which names the problem.
 */
import fc from 'fast-check';
import { readEnterpriseBatch } from '../../connectors/market-regulation/fast-replies';
import { enterpriseBatchReply } from '../../connectors/market-regulation/schemas';
import { expectReaderMatchesSchema } from '../support/reply-mutations';

const s = fc.string({ maxLength: 4 });
const num = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const licence = fc.record({ licenceNumber: s, issuedAt: s, validUntil: fc.option(s), scope: s, authority: s });
const enterprise = fc.record({
  creditCode: s,
  name: s,
  kind: fc.constantFrom('LIMITED_LIABILITY', 'JOINT_STOCK', 'SOLE_PROPRIETORSHIP', 'PARTNERSHIP', 'INDIVIDUAL_BUSINESS', 'OTHER'),
  status: fc.constantFrom('ACTIVE', 'ABNORMAL', 'REVOKED', 'CANCELLED'),
  legalRepIdNumber: s,
  registeredCapital: num,
  establishedAt: s,
  address: s,
  industry: s,
  version: num,
  licence: fc.option(licence),
  permits: fc.array(fc.record({ permitNumber: s, kind: s, issuedAt: s, validUntil: s, authority: s }), { maxLength: 2 }),
  penalties: fc.array(fc.record({ decisionNumber: s, reason: s, amount: num, decidedAt: s, authority: s }), { maxLength: 2 }),
  abnormalOperations: fc.array(fc.record({ reason: s, listedAt: s, removedAt: fc.option(s), authority: s }), { maxLength: 2 }),
});
const reply = fc.record({ items: fc.array(enterprise, { maxLength: 3 }) });

describe('market-regulation reply reader', () => {
  it('accepts exactly what enterpriseBatchReply accepts, with its output', () => {
    expectReaderMatchesSchema(readEnterpriseBatch, enterpriseBatchReply, reply as fc.Arbitrary<unknown>);
  });
});
