import { generateSeed } from '../../departments/seed/generate';
import { citizenIdProblem, creditCodeProblem, unitNumberProblem } from '../../src/sdk/identifiers';

describe('the seed generator', () => {
  const data = generateSeed({ seed: 1, size: 200 });

  it('is deterministic for one seed and size, and differs for another seed', () => {
    expect(JSON.stringify(generateSeed({ seed: 1, size: 200 }))).toBe(JSON.stringify(data));
    expect(generateSeed({ seed: 2, size: 200 }).persons[0]!.idNumber).not.toBe(data.persons[0]!.idNumber);
  });

  it('makes exactly `size` persons with unique, valid identity numbers', () => {
    expect(data.persons).toHaveLength(200);
    expect(new Set(data.persons.map((p) => p.idNumber)).size).toBe(200);
    expect(data.persons.filter((p) => citizenIdProblem(p.idNumber) !== undefined)).toEqual([]);
  });

  it('makes valid credit codes and unit numbers', () => {
    expect(data.enterprises.filter((e) => creditCodeProblem(e.creditCode) !== undefined)).toEqual([]);
    expect(data.properties.filter((p) => unitNumberProblem(p.unitNumber) !== undefined)).toEqual([]);
  });

  it('writes Shandong addresses and Chinese names', () => {
    for (const p of data.persons) {
      expect(p.address).toMatch(/^山东省(济南|菏泽|泰安|临沂|聊城|济宁|潍坊)市/);
      expect(p.name).toMatch(/^[\u4e00-\u9fa5]{2,3}$/);
    }
  });

  it('gives every person-owner of a property a deed-tax payment for it', () => {
    const taxpayers = new Map(data.taxpayers.map((t) => [t.taxpayerId, t]));
    for (const property of data.properties) {
      for (const owner of property.owners) {
        const paid = taxpayers.get(owner.ownerId)?.payments.some((p) => p.taxType === 'DEED' && p.unitNumber === property.unitNumber);
        expect(paid).toBe(true);
      }
    }
  });

  it("registers every insured person's employer as an enterprise with an employer account", () => {
    const enterprises = new Set(data.enterprises.map((e) => e.creditCode));
    const accounts = new Set(data.employerAccounts.map((a) => a.creditCode));
    const employers = data.insured.flatMap((i) => (i.employerCreditCode ? [i.employerCreditCode] : []));
    expect(employers.length).toBeGreaterThan(20);
    for (const code of employers) {
      expect(enterprises.has(code)).toBe(true);
      expect(accounts.has(code)).toBe(true);
    }
  });

  it('makes every legal representative a person known to social security and tax', () => {
    const insured = new Set(data.insured.map((i) => i.idNumber));
    const taxpayers = new Set(data.taxpayers.map((t) => t.taxpayerId));
    for (const e of data.enterprises) {
      expect(insured.has(e.legalRepIdNumber)).toBe(true);
      expect(taxpayers.has(e.legalRepIdNumber)).toBe(true);
    }
  });

  it('refuses a size or seed that is not an integer in range', () => {
    expect(() => generateSeed({ seed: 1, size: 3 })).toThrow('size must be an integer from 10 to 2000000, but got: 3');
    expect(() => generateSeed({ seed: 1.5, size: 200 })).toThrow('seed must be an integer, but got: 1.5');
  });
});
