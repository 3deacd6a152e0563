/**
 * The connectors' proof logic without a department: the time format of `asOf`, the claims of a
 * 社保缴费证明, and when 企业登记状态 and 不动产登记信息 / 无房证明 hold, as properties over generated
 * records (the integration suite checks the same against the real sandboxes). No claim is named
 * like one the proof signs in the clear (`status` is its status-list entry): issuing it would fail.
 */
import fc from 'fast-check';
import { chinaTime } from '../../src/sdk';
import { contributionClaims } from '../../connectors/social-security/proofs';
import { ENTERPRISE_REGISTRATION, createMarketRegulationProofs } from '../../connectors/market-regulation/proofs';
import { NO_PROPERTY, PROPERTY_RECORD, createRealEstateProofs } from '../../connectors/real-estate/proofs';
import type { InsuredRecord } from '../../connectors/social-security';
import type { EnterpriseRecord } from '../../connectors/market-regulation';
import type { PropertyRecord } from '../../connectors/real-estate';
import { citizenIdCheckChar, creditCodeCheckChar } from '../../src/sdk';
import { PROOF_CLEAR_CLAIMS } from '../../src/proofs';

/** Claim names the proof signs in the clear (`status` is its status-list entry): a department claim of that name cannot be issued. */
const reserved = (claims: Record<string, unknown>): string[] => Object.keys(claims).filter((name) => PROOF_CLEAR_CLAIMS.has(name));

const signal = new AbortController().signal;
const CREDIT_CODE = '91110000111111110' + creditCodeCheckChar('91110000111111110');
const PERSON = (() => {
  const first17 = '11010119800101123';
  return first17 + citizenIdCheckChar(first17);
})();

describe('asOf', () => {
  it('is RFC 3339 in China Standard Time to the second, the same instant truncated', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }), (ms) => {
        const text = chinaTime(ms);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
        expect(Date.parse(text)).toBe(Math.floor(ms / 1000) * 1000);
      }),
    );
  });
});

describe('社保缴费证明 claims', () => {
  const type = fc.constantFrom('PENSION', 'MEDICAL', 'UNEMPLOYMENT', 'WORK_INJURY', 'MATERNITY' as const);
  const period = fc.tuple(fc.integer({ min: 2000, max: 2030 }), fc.integer({ min: 1, max: 12 })).map(([y, m]) => `${y}-${String(m).padStart(2, '0')}`);
  const contribution = fc.record({ period, insuranceType: type, base: fc.constant(5000), amount: fc.constant(400), employerCreditCode: fc.constant(null) });

  it('count distinct months per type, list the types sorted, and give the newest period', () => {
    fc.assert(
      fc.property(fc.array(contribution, { maxLength: 60 }), (contributions) => {
        const record: InsuredRecord = { idNumber: PERSON, name: '张三', scheme: 'EMPLOYEE', status: 'ACTIVE', employerCreditCode: null, insuredSince: '2000-01-01', contributions };
        const claims = contributionClaims(record);
        const types = [...new Set(contributions.map((c) => c.insuranceType))].sort();
        expect(claims['insuranceTypes']).toEqual(types);
        for (const t of types) {
          expect((claims['monthsByType'] as Record<string, number>)[t]).toBe(new Set(contributions.filter((c) => c.insuranceType === t).map((c) => c.period)).size);
        }
        expect(claims['lastContributionPeriod']).toBe(contributions.length === 0 ? null : contributions.map((c) => c.period).sort().at(-1));
        expect(claims['employer']).toBeNull();
        expect(claims['insuredStatus']).toBe('ACTIVE');
        expect(reserved(claims)).toEqual([]);
      }),
    );
  });
});

describe('企业登记状态', () => {
  const listing = fc.record({ reason: fc.constant('r'), listedAt: fc.constant('2020-01-01'), removedAt: fc.option(fc.constant('2021-01-01'), { nil: null }), authority: fc.constant('a') });
  const status = fc.constantFrom('ACTIVE', 'ABNORMAL', 'REVOKED', 'CANCELLED' as const);

  it('holds exactly when the enterprise is ACTIVE with no listing in force', async () => {
    await fc.assert(
      fc.asyncProperty(status, fc.array(listing, { maxLength: 4 }), async (s, abnormalOperations) => {
        const record = { creditCode: 'C', name: 'N', status: s, legalRepIdNumber: PERSON, establishedAt: '2010-01-01', abnormalOperations } as unknown as EnterpriseRecord;
        const proofs = createMarketRegulationProofs(async () => record);
        const facts = await proofs.establish(ENTERPRISE_REGISTRATION, { kind: 'ENTERPRISE', id: CREDIT_CODE }, signal);
        const open = abnormalOperations.some((a) => a.removedAt === null);
        expect(facts.holds).toBe(s === 'ACTIVE' && !open);
        expect(facts.claims['onAbnormalList']).toBe(open);
        expect(facts.claims['registrationStatus']).toBe(s);
        expect(reserved(facts.claims)).toEqual([]);
      }),
    );
  });
});

describe('不动产登记信息 and 无房证明', () => {
  const unit = (n: number, owners: PropertyRecord['owners']): PropertyRecord => ({
    unitNumber: `110101001001GB00001F${String(n).padStart(8, '0')}`,
    certificateNumber: `C${n}`,
    address: 'A',
    area: 80,
    usage: 'RESIDENTIAL',
    registeredAt: '2020-01-01',
    owners,
    mortgages: [],
    seizures: [],
    transfers: [],
  });
  const owner = fc.record({ kind: fc.constantFrom('PERSON', 'ENTERPRISE' as const), ownerId: fc.constantFrom(PERSON, 'OTHER'), share: fc.constant(50), ownership: fc.constant('SHARED' as const) });

  it('PROPERTY_RECORD holds exactly when a unit has the person as an owner of kind PERSON, and NO_PROPERTY exactly when none has', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(owner, { minLength: 1, maxLength: 3 }), { maxLength: 4 }), async (ownerLists) => {
        const records = ownerLists.map((owners, i) => unit(i, owners));
        const proofs = createRealEstateProofs({ registryName: 'R', propertiesOwnedBy: async () => records, property: async () => null });
        const mine = records.filter((r) => r.owners.some((o) => o.kind === 'PERSON' && o.ownerId === PERSON));
        const record = await proofs.establish(PROPERTY_RECORD, { kind: 'PERSON', id: PERSON }, signal);
        const none = await proofs.establish(NO_PROPERTY, { kind: 'PERSON', id: PERSON }, signal);
        expect(record.holds).toBe(mine.length > 0);
        expect(none.holds).toBe(mine.length === 0);
        expect(record.dependsOn ?? []).toEqual(mine.map((r) => ({ kind: 'PROPERTY', id: r.unitNumber })));
      }),
    );
  });
});
