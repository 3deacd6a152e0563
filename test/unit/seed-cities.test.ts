/**
 * The seed generator's cities (跨域通办): a seed confined to Tai'an or Heze, and Tai'an units owned
 * by Heze's persons; the default (Shandong-wide) seed unchanged by either option.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { generateSeed } from '../../departments/seed/generate';
import { citizenIdProblem, creditCodeProblem, unitNumberProblem } from '../../src/sdk/identifiers';

const sha256 = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

describe('the seed generator: cities and cross-city owners', () => {
  const heze = generateSeed({ seed: 2, size: 120, city: 'heze' });
  const taian = generateSeed({ seed: 1, size: 150, city: 'taian', crossCity: { from: heze, sellers: 3 } });

  it('leaves the default seed byte for byte as it was before cities existed', () => {
    // Hashes of the seeds as made before the city option (tests and the README's examples depend on seed 1).
    expect(sha256(generateSeed({ seed: 1, size: 200 }))).toBe('91729b5842be3b6ca98938014162837c1bb41a82c740053f6d01d83f7177615f');
    expect(sha256(generateSeed({ seed: 1, size: 50 }))).toBe('49b0d952f58078f8de4acb8af536c239a85a29779fa740e3496186f8f916a986');
    expect(sha256(generateSeed({ seed: 7, size: 1000 }))).toBe('af7bd56f3bba7d26de3ad7b1468f4ad2b6816d0d815c5a0af0ea574ef5f0a519');
  });

  it.each([
    ['taian', '3709', '泰安'],
    ['heze', '3717', '菏泽'],
  ] as const)('confines a %s seed to its region codes, addresses and registries', (city, prefix, name) => {
    const data = generateSeed({ seed: 3, size: 150, city });
    expect(data.city).toBe(city);
    for (const p of data.persons) {
      expect(p.idNumber.slice(0, 4)).toBe(prefix);
      expect(citizenIdProblem(p.idNumber)).toBeUndefined();
      expect(p.address.startsWith(`山东省${name}市`)).toBe(true);
    }
    for (const e of data.enterprises) {
      expect(e.creditCode.slice(2, 6)).toBe(prefix);
      expect(creditCodeProblem(e.creditCode)).toBeUndefined();
      expect(e.name.startsWith(name)).toBe(true);
      expect(e.licence.authority.startsWith(`${name}市`)).toBe(true);
    }
    for (const p of data.properties) {
      expect(p.unitNumber.slice(0, 4)).toBe(prefix);
      expect(unitNumberProblem(p.unitNumber)).toBeUndefined();
      expect(p.certificateNumber).toContain(`${name}市不动产权第`);
    }
    for (const t of data.taxpayers) expect(t.taxOffice).toContain(`国家税务总局${name}市`);
  });

  it('makes Tai\'an units owned by Heze\'s persons, as Heze\'s seed has them, known to Heze\'s tax and social security only', () => {
    expect(taian.crossCityUnits).toHaveLength(3);
    const hezePersons = new Map(heze.persons.map((p) => [p.idNumber, p]));
    const hezeTaxpayers = new Set(heze.taxpayers.map((t) => t.taxpayerId));
    const hezeInsured = new Set(heze.insured.map((i) => i.idNumber));
    const taianIds = new Set([...taian.persons.map((p) => p.idNumber), ...taian.taxpayers.map((t) => t.taxpayerId), ...taian.insured.map((i) => i.idNumber)]);
    const owners = new Set<string>();
    for (const unit of taian.crossCityUnits!) {
      const property = taian.properties.find((p) => p.unitNumber === unit)!;
      expect(property.unitNumber.slice(0, 4)).toBe('3709');
      expect(property.address.startsWith('山东省泰安市')).toBe(true);
      expect(property.owners).toEqual([{ kind: 'PERSON', ownerId: expect.any(String), share: 100, ownership: 'SOLE' }]);
      const owner = property.owners[0]!.ownerId;
      owners.add(owner);
      expect(owner.slice(0, 4)).toBe('3717');
      expect(hezePersons.has(owner)).toBe(true);
      expect(hezeTaxpayers.has(owner)).toBe(true);
      expect(hezeInsured.has(owner)).toBe(true);
      expect(taianIds.has(owner)).toBe(false);
    }
    expect(owners.size).toBe(3);
    expect(new Set(taian.properties.map((p) => p.unitNumber)).size).toBe(taian.properties.length);
  });

  it('adds the cross-city units last, the rest of the seed as without them', () => {
    const alone = generateSeed({ seed: 1, size: 150, city: 'taian' });
    expect(alone.crossCityUnits).toBeUndefined();
    const { crossCityUnits, properties, ...rest } = taian;
    const { properties: aloneProperties, ...aloneRest } = alone;
    expect(rest).toEqual(aloneRest);
    expect(aloneProperties.length).toBeGreaterThan(0);
    expect(properties.slice(0, alone.properties.length)).toEqual(alone.properties);
    expect(properties.slice(alone.properties.length).map((p) => p.unitNumber)).toEqual(crossCityUnits);
  });

  it('is deterministic: the same seeds give the same cities and cross-city owners', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 5 }), (seed, sellers) => {
        const from = generateSeed({ seed: seed + 1, size: 40, city: 'heze' });
        const make = () => generateSeed({ seed, size: 40, city: 'taian', crossCity: { from, sellers } });
        const first = make();
        expect(sha256(make())).toBe(sha256(first));
        expect(first.crossCityUnits).toHaveLength(sellers);
      }),
      { numRuns: 15 },
    );
  });

  it('refuses a city or cross-city option it cannot honour, naming it', () => {
    expect(() => generateSeed({ seed: 1, size: 50, city: 'jinan' as never })).toThrow('city must be one of taian, heze, but got: jinan');
    expect(() => generateSeed({ seed: 1, size: 50, city: 'taian', crossCity: { from: generateSeed({ seed: 2, size: 50 }), sellers: 1 } })).toThrow('crossCity.from must be a seed made for one city');
    expect(() => generateSeed({ seed: 1, size: 50, city: 'heze', crossCity: { from: heze, sellers: 1 } })).toThrow("crossCity.from must be another city's seed, but both are heze's");
    expect(() => generateSeed({ seed: 1, size: 50, city: 'taian', crossCity: { from: {} as never, sellers: 1 } })).toThrow('crossCity.from must be the seed of another city');
    for (const sellers of [0, 101, 1.5, Number.NaN]) {
      expect(() => generateSeed({ seed: 1, size: 50, city: 'taian', crossCity: { from: heze, sellers } })).toThrow('crossCity.sellers must be an integer from 1 to 100');
    }
    const small = generateSeed({ seed: 1, size: 10, city: 'heze' });
    expect(() => generateSeed({ seed: 1, size: 50, city: 'taian', crossCity: { from: small, sellers: 100 } })).toThrow(/crossCity.sellers is 100, but the other city's seed has only \d+ adult taxpayers/);
  });
});
