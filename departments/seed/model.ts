/**
 * The seed data model: what the generator puts into the five sandbox departments.
 *
 * One `SeedData` value is the single source of truth; each sandbox loads the part its department
 * owns into its own store, and the end-to-end tests compare the hub's replies with it.
 * Money is in yuan with two decimals; dates are ISO `YYYY-MM-DD`; periods `YYYY-MM`.
 */

/** A city a seed can be confined to: 泰安 Tai'an (region codes 3709xx) or 菏泽 Heze (3717xx). */
export type SeedCity = 'taian' | 'heze';

export type Gender = 'MALE' | 'FEMALE';

/** A natural person, known to every department by the citizen identity number. */
export interface SeedPerson {
  idNumber: string;
  name: string;
  gender: Gender;
  birthDate: string;
  address: string;
  phone: string;
  /** Persons of one household share this id (for the living-allowance check). */
  householdId: string;
}

export type EnterpriseStatus = 'ACTIVE' | 'ABNORMAL' | 'REVOKED' | 'CANCELLED';
export type EnterpriseKind = 'LIMITED_LIABILITY' | 'JOINT_STOCK' | 'SOLE_PROPRIETORSHIP' | 'PARTNERSHIP' | 'INDIVIDUAL_BUSINESS';

/** 市场监管: an enterprise with its business licence, permits, penalties and abnormal-operation listings. */
export interface SeedEnterprise {
  creditCode: string;
  name: string;
  kind: EnterpriseKind;
  status: EnterpriseStatus;
  legalRepIdNumber: string;
  registeredCapital: number;
  establishedAt: string;
  address: string;
  industry: string;
  licence: { licenceNumber: string; issuedAt: string; validUntil: string | null; scope: string; authority: string };
  permits: { permitNumber: string; kind: string; issuedAt: string; validUntil: string; authority: string }[];
  penalties: { decisionNumber: string; reason: string; amount: number; decidedAt: string; authority: string }[];
  abnormalOperations: { reason: string; listedAt: string; removedAt: string | null; authority: string }[];
}

/** A status or registration event of the market-regulation change feed. */
export interface SeedEnterpriseEvent {
  seq: number;
  kind: 'REGISTERED' | 'STATUS_CHANGED';
  creditCode: string;
  status: EnterpriseStatus;
  at: string;
}

export type OwnerKind = 'PERSON' | 'ENTERPRISE';
export type PropertyUsage = 'RESIDENTIAL' | 'COMMERCIAL' | 'INDUSTRIAL' | 'OFFICE';

/** 不动产登记: a real-estate unit with its certificate, owners, mortgages, seizures and transfers. */
export interface SeedProperty {
  unitNumber: string;
  certificateNumber: string;
  address: string;
  area: number;
  usage: PropertyUsage;
  registeredAt: string;
  owners: {
    kind: OwnerKind;
    /** idNumber for persons, creditCode for enterprises. */
    ownerId: string;
    /** Percent, the shares of one property add up to 100. */
    share: number;
    /** 单独所有, 共同共有 or 按份共有. */
    ownership: 'SOLE' | 'JOINT' | 'SHARED';
  }[];
  mortgages: { registrationNumber: string; mortgagee: string; amount: number; startDate: string; endDate: string; status: 'ACTIVE' | 'RELEASED' }[];
  seizures: { seizureNumber: string; court: string; caseNumber: string; startDate: string; endDate: string; status: 'ACTIVE' | 'LIFTED' }[];
  transfers: { transferNumber: string; fromKind: OwnerKind; fromId: string; toKind: OwnerKind; toId: string; date: string; price: number }[];
}

export type InsuranceType = 'PENSION' | 'MEDICAL' | 'UNEMPLOYMENT' | 'WORK_INJURY' | 'MATERNITY';

/** 社会保险: an insured person and the contribution history. Every seeded person has one record. */
export interface SeedInsured {
  idNumber: string;
  name: string;
  /** Employee insurance 职工 (with an employer) or resident insurance 城乡居民 (none). */
  scheme: 'EMPLOYEE' | 'RESIDENT';
  status: 'ACTIVE' | 'SUSPENDED' | 'RETIRED';
  employerCreditCode: string | null;
  insuredSince: string;
  contributions: { period: string; insuranceType: InsuranceType; base: number; amount: number; employerCreditCode: string | null }[];
}

/** 社会保险: an employer's account with the social security agency. */
export interface SeedEmployerAccount {
  creditCode: string;
  accountNumber: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'CLOSED';
  openedAt: string;
  employeeCount: number;
  arrears: number;
}

export type TaxType = 'INDIVIDUAL_INCOME' | 'DEED' | 'VALUE_ADDED' | 'CORPORATE_INCOME' | 'PROPERTY';
export type CreditRating = 'A' | 'B' | 'M' | 'C' | 'D';

/** 税务: a registered taxpayer (a person or an enterprise), with payments and arrears. */
export interface SeedTaxpayer {
  /** The citizen identity number or the credit code. */
  taxpayerId: string;
  kind: OwnerKind;
  name: string;
  taxOffice: string;
  registeredAt: string;
  /** Tax credit rating 纳税信用等级; persons have none. */
  creditRating: CreditRating | null;
  payments: {
    voucherNumber: string;
    taxType: TaxType;
    amount: number;
    period: string;
    paidAt: string;
    /** The property for a deed-tax 契税 payment. */
    unitNumber: string | null;
  }[];
  arrears: { taxType: TaxType; amount: number; since: string }[];
}

export type FundAccountStatus = 'NORMAL' | 'SEALED' | 'CLOSED';
export type FundLoanStatus = 'REPAYING' | 'SETTLED' | 'OVERDUE';
export type FundWithdrawalReason = 'HOUSE_PURCHASE' | 'RENT' | 'LOAN_REPAYMENT' | 'RETIREMENT';
export type FundEmployerStatus = 'NORMAL' | 'SUSPENDED' | 'CLOSED';

/**
 * 住房公积金: a person's housing provident fund account 个人账户. `NORMAL` accounts are paid into
 * monthly; a `SEALED` account 封存 keeps its balance but receives nothing (the holder left the
 * job; the account sits in the fund centre's pool, so it has no employer); a `CLOSED` account 销户
 * was paid out, at retirement, and holds nothing.
 */
export interface SeedFundAccount {
  /** 个人公积金账号: the holder's region code, then 10 digits. */
  accountNumber: string;
  /** The holder, a seeded person. */
  idNumber: string;
  /** The employer 缴存单位 (its social-security employer); null for a sealed, closed or self-paid 灵活就业 account. */
  employerCreditCode: string | null;
  status: FundAccountStatus;
  openedAt: string;
  /** The monthly contribution base 缴存基数, in yuan, for the current year (from July). */
  monthlyBase: number;
  /** Employer and personal rates together, 0.10 to 0.24 (each 5 % to 12 %). */
  contributionRate: number;
  balance: number;
  /** At most the last 36 months, newest first. A self-paid account has employerAmount 0 and pays both parts itself. */
  contributions: { period: string; employerAmount: number; personalAmount: number; paidAt: string }[];
  /** Provident-fund home loans 公积金贷款, newest first; `unitNumber` is a property the holder owns, or null (a home outside the province's registry). */
  loans: { loanNumber: string; amount: number; outstanding: number; startedAt: string; termMonths: number; status: FundLoanStatus; unitNumber: string | null }[];
  /** Withdrawals 提取, newest first. */
  withdrawals: { withdrawnAt: string; amount: number; reason: FundWithdrawalReason }[];
}

/**
 * 住房公积金: an employer's account 单位账户 with the fund centre. Employees' contributions stop at
 * `lastPaidPeriod`; `arrearsMonths` counts the months after it up to the last period (0 when
 * CLOSED).
 */
export interface SeedFundEmployer {
  /** 单位公积金账号: the enterprise's region code, then 8 digits. */
  employerAccountNumber: string;
  creditCode: string;
  status: FundEmployerStatus;
  openedAt: string;
  /** Accounts paid into through this employer (its NORMAL accounts). */
  employees: number;
  arrearsMonths: number;
  /** `YYYY-MM`; null when the employer never paid. */
  lastPaidPeriod: string | null;
}

/** Everything the generator makes, for all five departments. */
export interface SeedData {
  seed: number;
  size: number;
  persons: SeedPerson[];
  enterprises: SeedEnterprise[];
  enterpriseEvents: SeedEnterpriseEvent[];
  properties: SeedProperty[];
  insured: SeedInsured[];
  employerAccounts: SeedEmployerAccount[];
  taxpayers: SeedTaxpayer[];
  /** Housing provident fund accounts of persons, generated after (and independently of) the rest. */
  fundAccounts: SeedFundAccount[];
  /** Housing provident fund accounts of employers. */
  fundEmployers: SeedFundEmployer[];
  /** The city the seed is confined to (`SeedOptions.city`); absent for the Shandong-wide seed. */
  city?: SeedCity;
  /** With `SeedOptions.crossCity`: the unit numbers of the units owned by persons of the other city's seed (last in `properties`). */
  crossCityUnits?: string[];
}
