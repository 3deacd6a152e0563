import { citizenIdCheckChar, citizenIdFacts, citizenIdProblem, creditCodeCheckChar, creditCodeProblem, unitNumberProblem } from '../../src/sdk/identifiers';

describe('citizen identity numbers (GB 11643)', () => {
  // The worked example of GB 11643-1999.
  const valid = '11010519491231002X';

  it('accepts a number whose check character matches', () => {
    expect(citizenIdCheckChar(valid.slice(0, 17))).toBe('X');
    expect(citizenIdProblem(valid)).toBeUndefined();
  });

  it('names a wrong length', () => {
    expect(citizenIdProblem('1101051949123100')).toBe('must be 18 characters, got 16');
  });

  it('names a wrong check character', () => {
    expect(citizenIdProblem('110105194912310021')).toBe('check character does not match (GB 11643 MOD 11-2)');
  });

  it('names an impossible birth date', () => {
    const first17 = '11010519490231002';
    expect(citizenIdProblem(first17 + citizenIdCheckChar(first17))).toBe('characters 7 to 14 are not a valid birth date');
  });

  it('refuses letters other than a final X', () => {
    expect(citizenIdProblem('11010519491231002x')).toBe('must be 17 digits followed by a digit or X');
  });

  it('reads gender and birth date from the number', () => {
    expect(citizenIdFacts(valid)).toEqual({ gender: 'FEMALE', birthDate: '1949-12-31' });
  });
});

describe('unified social credit codes (GB 32100)', () => {
  // A published code: the check character is the last one.
  const valid = '91350100M000100Y43';

  it('accepts a code whose check character matches', () => {
    expect(creditCodeCheckChar(valid.slice(0, 17))).toBe('3');
    expect(creditCodeProblem(valid)).toBeUndefined();
  });

  it('names a wrong check character', () => {
    expect(creditCodeProblem('91350100M000100Y44')).toBe('check character does not match (GB 32100)');
  });

  it('names characters outside the GB 32100 set', () => {
    expect(creditCodeProblem('91350100M000100I43')).toMatch(/outside the GB 32100 set/);
  });

  it('names a wrong length', () => {
    expect(creditCodeProblem('9135')).toBe('must be 18 characters, got 4');
  });
});

describe('real-estate unit numbers', () => {
  it('accepts a 28-character unit number', () => {
    expect(unitNumberProblem('370811004012GB44287F90612652')).toBeUndefined();
  });

  it('names the part that is wrong', () => {
    expect(unitNumberProblem('370811004012XX44287F90612652')).toBe('characters 13 and 14 must be a parcel feature code such as GB');
    expect(unitNumberProblem('370811004012GB44287A90612652')).toBe('character 20 must be a fixture feature code (F, L, Q, W or V)');
    expect(unitNumberProblem('3708')).toBe('must be 28 characters, got 4');
  });
});
