/**
 * The housing provident fund centre's own store 公积金中心业务库: personal accounts by account
 * number and by holder, employer accounts by account number and by credit code, built once from
 * the seed. Rows are copies of the seed's objects, except the monthly contributions: those are
 * the bulk of the data (about 900 000 at 100 000 persons, some 50 MB), never change, and are only
 * ever serialised, so the store shares the seed's lists read-only instead of doubling them.
 */
import type { FundAccountStatus, FundEmployerStatus, FundLoanStatus, FundWithdrawalReason, SeedData } from '../seed/model';

/** One month's contribution 汇缴 to a personal account. */
export interface FundContributionRow {
  period: string;
  employerAmount: number;
  personalAmount: number;
  paidAt: string;
}

/** A provident-fund home loan 公积金贷款; `unitNumber` is the property it bought, if registered here. */
export interface FundLoanRow {
  loanNumber: string;
  amount: number;
  outstanding: number;
  startedAt: string;
  termMonths: number;
  status: FundLoanStatus;
  unitNumber: string | null;
}

/** A withdrawal 提取 from a personal account. */
export interface FundWithdrawalRow {
  withdrawnAt: string;
  amount: number;
  reason: FundWithdrawalReason;
}

/** A personal account 个人账户; lists newest first. */
export interface FundAccountRow {
  accountNumber: string;
  idNumber: string;
  employerCreditCode: string | null;
  status: FundAccountStatus;
  openedAt: string;
  monthlyBase: number;
  contributionRate: number;
  balance: number;
  /** Shared with the seed: never modify. */
  contributions: readonly Readonly<FundContributionRow>[];
  loans: readonly FundLoanRow[];
  withdrawals: readonly FundWithdrawalRow[];
}

/** An employer account 单位账户. */
export interface FundEmployerRow {
  employerAccountNumber: string;
  creditCode: string;
  status: FundEmployerStatus;
  openedAt: string;
  employees: number;
  arrearsMonths: number;
  lastPaidPeriod: string | null;
}

/** The sandbox's store. */
export interface HousingFundStore {
  readonly accounts: ReadonlyMap<string, FundAccountRow>;
  readonly accountsByHolder: ReadonlyMap<string, FundAccountRow>;
  readonly employers: ReadonlyMap<string, FundEmployerRow>;
  readonly employersByCreditCode: ReadonlyMap<string, FundEmployerRow>;
}

/** Builds the store from the fund's part of the seed (`fundAccounts`, `fundEmployers`). */
export function createHousingFundStore(data: Pick<SeedData, 'fundAccounts' | 'fundEmployers'>): HousingFundStore {
  if (!Array.isArray(data.fundAccounts) || !Array.isArray(data.fundEmployers)) {
    throw new TypeError('the housing fund sandbox needs a seed with fundAccounts and fundEmployers (generateSeed makes them)');
  }
  const accounts = new Map<string, FundAccountRow>();
  const accountsByHolder = new Map<string, FundAccountRow>();
  for (const a of data.fundAccounts) {
    const row: FundAccountRow = {
      accountNumber: a.accountNumber,
      idNumber: a.idNumber,
      employerCreditCode: a.employerCreditCode,
      status: a.status,
      openedAt: a.openedAt,
      monthlyBase: a.monthlyBase,
      contributionRate: a.contributionRate,
      balance: a.balance,
      contributions: a.contributions,
      loans: a.loans.map((l) => ({ ...l })),
      withdrawals: a.withdrawals.map((w) => ({ ...w })),
    };
    accounts.set(row.accountNumber, row);
    accountsByHolder.set(row.idNumber, row);
  }
  const employers = new Map<string, FundEmployerRow>();
  const employersByCreditCode = new Map<string, FundEmployerRow>();
  for (const e of data.fundEmployers) {
    const row: FundEmployerRow = { ...e };
    employers.set(row.employerAccountNumber, row);
    employersByCreditCode.set(row.creditCode, row);
  }
  return { accounts, accountsByHolder, employers, employersByCreditCode };
}
