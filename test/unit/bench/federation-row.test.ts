/**
 * Row F of the benchmark (跨域通办): the seeds of the two cities' hubs and of the one hub holding
 * both, and the verdict A / single ≤ 1.3×.
 */
import fc from 'fast-check';
import { comparableData, SINGLE_HUB_QUERY } from '../../../bench/lib/federation-replies';
import { FEDERATION_CPU_TARGET, FEDERATION_SELLERS, federationSeed, federationSeeds, federationVerdict, mergeSeeds } from '../../../bench/lib/federation-seeds';
import { CROSS_CITY_QUERY } from '../../../src/cli/demo-cross-city';

describe('row F seeds', () => {
  const seeds = federationSeeds({ seed: 1, size: 300 });

  it('gives one case per cross-city unit: a unit of the requesting city owned by a person only the serving city knows', () => {
    expect(seeds.cases).toHaveLength(FEDERATION_SELLERS);
    const requestingPersons = new Set(seeds.requesting.persons.map((p) => p.idNumber));
    const servingTaxpayers = new Set(seeds.serving.taxpayers.map((t) => t.taxpayerId));
    for (const c of seeds.cases) {
      expect(seeds.requesting.properties.some((p) => p.unitNumber === c.unit)).toBe(true);
      expect(requestingPersons.has(c.seller)).toBe(false);
      expect(servingTaxpayers.has(c.seller)).toBe(true);
      expect(c.seller.startsWith('3717')).toBe(true);
    }
  });

  it('holds both cities in the single seed: every seller is a local person and taxpayer there', () => {
    const { single } = seeds;
    expect(single.persons).toHaveLength(seeds.requesting.persons.length + seeds.serving.persons.length);
    const persons = new Set(single.persons.map((p) => p.idNumber));
    const taxpayers = new Set(single.taxpayers.map((t) => t.taxpayerId));
    const insured = new Set(single.insured.map((i) => i.idNumber));
    for (const c of seeds.cases) {
      expect(persons.has(c.seller)).toBe(true);
      expect(taxpayers.has(c.seller)).toBe(true);
      expect(insured.has(c.seller)).toBe(true);
      expect(single.properties.some((p) => p.unitNumber === c.unit)).toBe(true);
    }
    expect(single.city).toBeUndefined();
    const seqs = single.enterpriseEvents.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('makes the same seed for one role as for all three (the departments\' processes and the runner agree)', () => {
    expect(federationSeed('requesting', { seed: 1, size: 300 }).crossCityUnits).toEqual(seeds.requesting.crossCityUnits);
    expect(federationSeed('serving', { seed: 1, size: 300 }).persons).toEqual(seeds.serving.persons);
    expect(federationSeed('single', { seed: 1, size: 300 }).taxpayers).toEqual(seeds.single.taxpayers);
  });

  it('refuses to merge a seed with itself, naming the record both have', () => {
    expect(() => mergeSeeds(seeds.serving, seeds.serving)).toThrow(/both have the person 3717/);
  });
});

describe('row F questions and replies', () => {
  it('asks the single hub the demo\'s query with the seller from its own departments, nothing else changed', () => {
    expect(SINGLE_HUB_QUERY).not.toContain('hezePerson');
    expect(SINGLE_HUB_QUERY.replace('seller: person(', 'seller: hezePerson(')).toBe(CROSS_CITY_QUERY);
  });

  it('compares the replies without seals and the seller\'s identity number, and nothing else', () => {
    const seal = (issuer: string) => ({ issuer, keyId: `${issuer}-1`, token: `${issuer}.token` });
    const reply = (sellerId: string, sealOf: string, hasArrears = false) => ({
      data: {
        property: { unitNumber: 'U1', owners: [{ share: 100, owner: { __typename: 'Person', idNumber: '371702199001011234' } }], seal: seal(`re-${sealOf}`) },
        seller: { idNumber: sellerId, name: '张三', taxRecords: { hasArrears, payments: [], seal: seal(`tax-${sealOf}`) } },
      },
    });
    const federated = reply('3717**********1234', 'heze');
    const single = reply('371702199001011234', 'taian');
    expect(comparableData(federated)).toEqual(comparableData(single));
    expect(comparableData(single)).toEqual({
      property: { unitNumber: 'U1', owners: [{ share: 100, owner: { __typename: 'Person', idNumber: '371702199001011234' } }] },
      seller: { name: '张三', taxRecords: { hasArrears: false, payments: [] } },
    });
    expect(comparableData(reply('371702199001011234', 'taian', true))).not.toEqual(comparableData(single));
    expect(comparableData({ data: { property: null, seller: null } })).toEqual({ property: null, seller: null });
  });
});

describe('row F verdict', () => {
  it('compares A with the single hub, A+B beside it', () => {
    expect(federationVerdict({ requesting: 2.6, serving: 1.5, single: 2 })).toEqual({ ratio: 1.3, bothRatio: 2.05, met: true });
    expect(federationVerdict({ requesting: 2.7, serving: 0, single: 2 }).met).toBe(false);
  });

  it('is met exactly when A ≤ target × single, for any figures', () => {
    const cpu = fc.double({ min: 0, max: 1000, noNaN: true });
    fc.assert(
      fc.property(cpu, cpu, fc.double({ min: 0.001, max: 1000, noNaN: true }), (requesting, serving, single) => {
        const v = federationVerdict({ requesting, serving, single });
        expect(v.met).toBe(requesting / single <= FEDERATION_CPU_TARGET);
        expect(v.bothRatio).toBeGreaterThanOrEqual(v.ratio);
      }),
    );
  });

  it('refuses figures it cannot compare, naming the hub', () => {
    expect(() => federationVerdict({ requesting: 1, serving: 1, single: 0 })).toThrow(/single hub used no CPU/);
    expect(() => federationVerdict({ requesting: Number.NaN, serving: 1, single: 1 })).toThrow(/requesting hub's CPU/);
    expect(() => federationVerdict({ requesting: 1, serving: -1, single: 1 })).toThrow(/serving hub's CPU/);
  });
});
