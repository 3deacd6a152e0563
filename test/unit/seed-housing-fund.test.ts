import { createHash } from 'node:crypto';
import { generateSeed } from '../../departments/seed/generate';
import type { SeedData, SeedFundAccount } from '../../departments/seed/model';
import { citizenIdProblem } from '../../src/sdk/identifiers';

/** The parts of SeedData that existed before the housing fund, in the order they are hashed. */
const EARLIER_FIELDS = ['seed', 'size', 'persons', 'enterprises', 'enterpriseEvents', 'properties', 'insured', 'employerAccounts', 'taxpayers'] as const;

/**
 * SHA-256 of JSON.stringify of each earlier field, computed with the generator as it was before
 * the housing fund was added (commit 2f8cb0c). Adding the fund must not change one of them.
 */
const HASHES_BEFORE_THE_FUND: Record<string, Record<(typeof EARLIER_FIELDS)[number], string>> = {
  'seed 1, size 200': {
    seed: '6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b',
    size: '27badc983df1780b60c2b3fa9d3a19a00e46aac798451f0febdca52920faaddf',
    persons: 'e8fb4cb07532711c4bd4235d2503a82d02c1aeb4077e26049a936b1dcd44094a',
    enterprises: '00b2acb7556525c04e7c632cd0360ab6de187bad38542ccbe508041148c1f94f',
    enterpriseEvents: 'bfcd733410d5b37376470fa9fda16db60096115efbec177872743ed5938efc5d',
    properties: '95b02eb76dbf58b13481e8e10d578f80f4e2f40eeaee051b4f682e361fa8a390',
    insured: 'cd82bdd121c2cfbb73c87e5fa4da0f5ceebb73b6f50fa025433eee8dc83a5fb0',
    employerAccounts: 'd05fc788a399d3c8d4692d77997869e16acf78f24c6971b546684e0149e9c4d4',
    taxpayers: 'e39748373c3caf1938181328c0c31980676f5dbbf95449545ec23ca684e777ed',
  },
  'seed 7, size 1000': {
    seed: '7902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451',
    size: '40510175845988f13f6162ed8526f0b09f73384467fa855e1e79b44a56562a58',
    persons: '76e871a744c23ca40117fdc783571c56744186dffb4a369d77cae4e87f4c1641',
    enterprises: 'a335d032fe299368986725e599b39ea441569fb869511c9637195c7fe58e69c6',
    enterpriseEvents: 'afdd48e509e494c330fff48b16495197d8853ddcb34e178e93a5c0ecac6882f3',
    properties: '8d93145d8df4cdf93e7f169b917c10c44d02fc2e384f1695bb59147bbc397a05',
    insured: 'b64fb17ed9108cf6d2842c585e5be35c5ee62704397d55ef6f88ec20cc4edb53',
    employerAccounts: '3caf70ffc3ea839e3091959ab4501db4b463b0b5dd2f0ecda665a734f4b84f24',
    taxpayers: '37166e8ad95c80ab3d0e343199180cabd675a1f6a13863788c4b263b65dd3f1a',
  },
};

function hashesOf(data: SeedData): Record<string, string> {
  return Object.fromEntries(EARLIER_FIELDS.map((field) => [field, createHash('sha256').update(JSON.stringify(data[field])).digest('hex')]));
}

const monthIndex = (date: string): number => Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
const isCents = (n: number): boolean => Number.isFinite(n) && Math.abs(Math.round(n * 100) - n * 100) < 1e-6;

describe('the housing provident fund part of the seed', () => {
  it.each([
    ['seed 1, size 200', { seed: 1, size: 200 }],
    ['seed 7, size 1000', { seed: 7, size: 1000 }],
  ])('leaves every earlier part of the seed as it was (%s)', (label, options) => {
    expect(hashesOf(generateSeed(options))).toEqual(HASHES_BEFORE_THE_FUND[label]);
  });

  // Size 1000 gives enough of each kind of record (sealed, closed, arrears, loans) to check.
  const data = generateSeed({ seed: 7, size: 1000 });
  const persons = new Set(data.persons.map((p) => p.idNumber));
  const insured = new Map(data.insured.map((i) => [i.idNumber, i]));
  const enterprises = new Map(data.enterprises.map((e) => [e.creditCode, e]));
  const properties = new Map(data.properties.map((p) => [p.unitNumber, p]));
  const employers = new Map(data.fundEmployers.map((e) => [e.creditCode, e]));
  const LAST_PERIOD = '2026-09';

  it('is deterministic and depends on the seed', () => {
    const again = generateSeed({ seed: 7, size: 1000 });
    expect(JSON.stringify(again.fundAccounts)).toBe(JSON.stringify(data.fundAccounts));
    expect(JSON.stringify(again.fundEmployers)).toBe(JSON.stringify(data.fundEmployers));
    expect(JSON.stringify(generateSeed({ seed: 8, size: 1000 }).fundAccounts)).not.toBe(JSON.stringify(data.fundAccounts));
  });

  it('has one of each kind the sandbox serves', () => {
    const statuses = new Set(data.fundAccounts.map((a) => a.status));
    expect([...statuses].sort()).toEqual(['CLOSED', 'NORMAL', 'SEALED']);
    expect(new Set(data.fundEmployers.map((e) => e.status))).toEqual(new Set(['NORMAL', 'SUSPENDED', 'CLOSED']));
    expect(data.fundEmployers.some((e) => e.status === 'NORMAL' && e.arrearsMonths > 0)).toBe(true);
    const loans = data.fundAccounts.flatMap((a) => a.loans);
    expect(loans.some((l) => l.unitNumber !== null)).toBe(true);
    expect(loans.some((l) => l.unitNumber === null)).toBe(true);
    expect(new Set(data.fundAccounts.flatMap((a) => a.withdrawals.map((w) => w.reason)))).toEqual(new Set(['HOUSE_PURCHASE', 'RENT', 'LOAN_REPAYMENT', 'RETIREMENT']));
  });

  it('gives most employed insured persons an account, and most live social-security employers a fund account', () => {
    const employed = data.insured.filter((i) => i.employerCreditCode !== null);
    const withAccount = new Set(data.fundAccounts.map((a) => a.idNumber));
    expect(employed.filter((i) => withAccount.has(i.idNumber)).length / employed.length).toBeGreaterThan(0.6);
    const active = data.employerAccounts.filter((a) => a.status === 'ACTIVE');
    expect(active.filter((a) => employers.has(a.creditCode)).length / active.length).toBeGreaterThan(0.7);
  });

  it("makes every account's holder a seeded person, once, and its employer the holder's social-security employer", () => {
    expect(new Set(data.fundAccounts.map((a) => a.idNumber)).size).toBe(data.fundAccounts.length);
    expect(new Set(data.fundAccounts.map((a) => a.accountNumber)).size).toBe(data.fundAccounts.length);
    for (const account of data.fundAccounts) {
      expect(persons.has(account.idNumber)).toBe(true);
      expect(citizenIdProblem(account.idNumber)).toBeUndefined();
      expect(account.accountNumber).toMatch(/^\d{16}$/);
      if (account.employerCreditCode !== null) {
        expect(account.status).toBe('NORMAL');
        expect(account.employerCreditCode).toBe(insured.get(account.idNumber)!.employerCreditCode);
        expect(employers.get(account.employerCreditCode)?.status).not.toBe('CLOSED');
      } else {
        expect(insured.get(account.idNumber)!.employerCreditCode).toBeNull();
      }
    }
  });

  it('links every fund employer to a registered enterprise with a social-security account, and counts its paying employees', () => {
    const socialSecurity = new Set(data.employerAccounts.map((a) => a.creditCode));
    expect(new Set(data.fundEmployers.map((e) => e.employerAccountNumber)).size).toBe(data.fundEmployers.length);
    for (const employer of data.fundEmployers) {
      expect(enterprises.has(employer.creditCode)).toBe(true);
      expect(socialSecurity.has(employer.creditCode)).toBe(true);
      expect(employer.employerAccountNumber).toMatch(/^\d{14}$/);
      expect(employer.openedAt >= enterprises.get(employer.creditCode)!.establishedAt).toBe(true);
      const paying = data.fundAccounts.filter((a) => a.employerCreditCode === employer.creditCode && a.status === 'NORMAL');
      expect(employer.employees).toBe(paying.length);
      if (employer.status === 'CLOSED') expect(employer.arrearsMonths).toBe(0);
      else expect(employer.arrearsMonths).toBe(monthIndex(LAST_PERIOD) - monthIndex(employer.lastPaidPeriod!));
    }
  });

  it('pays contributions monthly, newest first, within the last 36 months, at the rate on the base, until the employer stopped paying', () => {
    // Problems are collected rather than asserted one by one: tens of thousands of checks.
    const problems: string[] = [];
    const check = (ok: boolean, account: SeedFundAccount, what: string): void => {
      if (!ok) problems.push(`${account.accountNumber}: ${what}`);
    };
    for (const account of data.fundAccounts) {
      check(account.contributionRate >= 0.1 && account.contributionRate <= 0.24, account, 'rate out of 0.10..0.24');
      check(isCents(account.balance) && account.balance >= 0, account, 'balance not a non-negative amount');
      if (account.status === 'CLOSED') check(account.balance === 0, account, 'closed with a balance');
      const c = account.contributions;
      check(c.length <= 36, account, 'more than 36 contributions');
      const monthly = account.monthlyBase * account.contributionRate;
      for (let i = 0; i < c.length; i++) {
        const { period, paidAt, employerAmount, personalAmount } = c[i]!;
        check(/^\d{4}-(0[1-9]|1[0-2])$/.test(period), account, `period ${period} not YYYY-MM`);
        check(period <= LAST_PERIOD && monthIndex(period) > monthIndex(LAST_PERIOD) - 36, account, `period ${period} outside the last 36 months`);
        if (i > 0) check(monthIndex(c[i - 1]!.period) - monthIndex(period) === 1, account, `period ${period} not the month before the previous one`);
        check(paidAt.slice(0, 7) === period, account, `paid ${paidAt} outside its period ${period}`);
        check(period >= account.openedAt.slice(0, 7), account, `period ${period} before the account opened`);
        check(isCents(employerAmount) && isCents(personalAmount), account, 'amounts not in cents');
        // The base of earlier years was lower; it is never above the current one.
        const total = employerAmount + personalAmount;
        check(total <= monthly + 0.02 && total > monthly * 0.7, account, `${period}: ${total} is not the rate on a base near the current one`);
        if (account.employerCreditCode !== null) check(employerAmount === personalAmount, account, `${period}: employer and personal parts differ`);
      }
      if (account.employerCreditCode !== null && c.length > 0) {
        check(c[0]!.period <= employers.get(account.employerCreditCode)!.lastPaidPeriod!, account, "paid after its employer's last paid period");
      }
    }
    expect(problems).toEqual([]);
    expect(data.fundAccounts.some((a) => a.contributions.length === 36)).toBe(true);
  });

  it("puts a loan's property among the homes its holder owns, and keeps loan figures coherent", () => {
    let linked = 0;
    for (const account of data.fundAccounts) {
      for (const loan of account.loans) {
        expect(loan.outstanding).toBeGreaterThanOrEqual(0);
        expect(loan.outstanding).toBeLessThanOrEqual(loan.amount);
        expect(loan.status === 'SETTLED').toBe(loan.outstanding === 0);
        expect(loan.startedAt >= account.openedAt.slice(0, 7)).toBe(true);
        if (loan.unitNumber === null) continue;
        linked++;
        const property = properties.get(loan.unitNumber);
        expect(property).toBeDefined();
        expect(property!.owners.some((o) => o.kind === 'PERSON' && o.ownerId === account.idNumber)).toBe(true);
      }
      for (let i = 1; i < account.withdrawals.length; i++) expect(account.withdrawals[i - 1]!.withdrawnAt >= account.withdrawals[i]!.withdrawnAt).toBe(true);
      for (const w of account.withdrawals) expect(isCents(w.amount) && w.amount > 0).toBe(true);
    }
    expect(linked).toBeGreaterThan(5);
  });
});
