/**
 * The market-regulation connector's hand-written reader of the enterprise batch reply against its
 * zod schema: on generated and corrupted replies it answers exactly when the schema accepts, with
 * the schema's output; a reply it leaves (undefined) goes to the schema, which names the problem.
 */
import fc from 'fast-check';
import { readEnterpriseBatch } from '../../connectors/market-regulation/fast-replies';
import { enterpriseBatchReply } from '../../connectors/market-regulation/schemas';

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

/** A value with one property somewhere replaced by something of another kind, removed, or one added. */
function mutate(value: unknown, path: number[], replacement: unknown, how: number): unknown {
  if (value === null || typeof value !== 'object' || path.length === 0) return how === 2 && value !== null && typeof value === 'object' ? { ...value, extra: replacement } : replacement;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  if (how === 1 && path.length === 1 && !Array.isArray(value)) delete copy[key];
  else copy[key] = mutate(copy[key], path.slice(1), replacement, how);
  return copy;
}
const odd = fc.constantFrom<unknown>('', 'x', [], {}, null, 1, 1.5, true, undefined);

describe('market-regulation reply reader', () => {
  it('accepts exactly what enterpriseBatchReply accepts, with its output', () => {
    const values = fc.oneof(reply as fc.Arbitrary<unknown>, fc.tuple(reply, fc.array(fc.nat(), { maxLength: 5 }), odd, fc.nat({ max: 2 })).map(([v, path, r, how]) => mutate(v, path, r, how)));
    let accepted = 0;
    fc.assert(
      fc.property(values, (data) => {
        const parsed = enterpriseBatchReply.safeParse(data);
        const fast = readEnterpriseBatch(data);
        if (parsed.success) {
          expect(fast).toEqual(parsed.data);
          accepted++;
        } else expect(fast).toBeUndefined();
      }),
      { numRuns: 1500 },
    );
    expect(accepted).toBeGreaterThan(10);
  });
});
