/**
 * The social security agency's own store 社保经办库: insured persons and employer accounts keyed
 * by identifier, built once from the seed. Rows are the shapes the REST API serves, so a reply
 * is serialised straight from the store without per-request mapping.
 */
import type { InsuranceType, SeedData } from '../seed/model';

/** One monthly contribution of one insurance type 缴费记录. */
export interface ContributionRow {
  period: string;
  insuranceType: InsuranceType;
  base: number;
  amount: number;
  employerCreditCode: string | null;
}

/** An insured person 参保人 with the contribution history, newest period first. */
export interface InsuredRow {
  idNumber: string;
  name: string;
  scheme: 'EMPLOYEE' | 'RESIDENT';
  status: 'ACTIVE' | 'SUSPENDED' | 'RETIRED';
  employerCreditCode: string | null;
  insuredSince: string;
  contributions: ContributionRow[];
}

/** An employer's account 参保单位 with the agency. */
export interface EmployerAccountRow {
  creditCode: string;
  accountNumber: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'CLOSED';
  openedAt: string;
  employeeCount: number;
  arrears: number;
}

/** The sandbox's store: insured persons by citizen identity number, employer accounts by credit code. */
export interface SocialSecurityStore {
  readonly insured: ReadonlyMap<string, InsuredRow>;
  readonly employers: ReadonlyMap<string, EmployerAccountRow>;
}

/** Fixed order of insurance types inside one period, so that replies are deterministic. */
const TYPE_ORDER: Record<InsuranceType, number> = { PENSION: 0, MEDICAL: 1, UNEMPLOYMENT: 2, WORK_INJURY: 3, MATERNITY: 4 };

function newestFirst(a: ContributionRow, b: ContributionRow): number {
  if (a.period !== b.period) return a.period < b.period ? 1 : -1;
  return TYPE_ORDER[a.insuranceType] - TYPE_ORDER[b.insuranceType];
}

/**
 * Builds the store from the department's part of the seed. Rows are copied, never shared with
 * the seed, so tests that compare replies with the seed compare two independent representations.
 */
export function createSocialSecurityStore(data: Pick<SeedData, 'insured' | 'employerAccounts'>): SocialSecurityStore {
  const insured = new Map<string, InsuredRow>();
  for (const p of data.insured) {
    const contributions = p.contributions.map(
      (c): ContributionRow => ({ period: c.period, insuranceType: c.insuranceType, base: c.base, amount: c.amount, employerCreditCode: c.employerCreditCode }),
    );
    contributions.sort(newestFirst);
    insured.set(p.idNumber, {
      idNumber: p.idNumber,
      name: p.name,
      scheme: p.scheme,
      status: p.status,
      employerCreditCode: p.employerCreditCode,
      insuredSince: p.insuredSince,
      contributions,
    });
  }
  const employers = new Map<string, EmployerAccountRow>();
  for (const e of data.employerAccounts) {
    employers.set(e.creditCode, {
      creditCode: e.creditCode,
      accountNumber: e.accountNumber,
      status: e.status,
      openedAt: e.openedAt,
      employeeCount: e.employeeCount,
      arrears: e.arrears,
    });
  }
  return { insured, employers };
}
