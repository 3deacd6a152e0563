/**
 * The housing provident fund subgraph 住房公积金: its SDL (an Apollo Federation 2 subgraph that
 * extends Person, Enterprise and Property by their keys) and the resolvers over the store.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { FundAccountRow, FundEmployerRow, FundLoanRow, HousingFundStore } from './store';

/**
 * The subgraph's SDL, exactly as the hub's GraphQL connector expects it (only descriptions
 * added). Amounts are yuan with two decimals, dates `YYYY-MM-DD`, periods `YYYY-MM`.
 */
export const HOUSING_FUND_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  "A personal account 个人账户 by its number; null when there is none."
  fundAccount(accountNumber: ID!): FundAccount
  "An employer account 单位账户 by its number; null when there is none."
  fundEmployer(employerAccountNumber: ID!): FundEmployer
}

"A natural person, by citizen identity number 公民身份号码."
type Person @key(fields: "idNumber") {
  idNumber: ID!
  "The person's housing provident fund account; null when the person has none."
  providentFund: FundAccount
}

"An enterprise, by unified social credit code 统一社会信用代码."
type Enterprise @key(fields: "creditCode") {
  creditCode: ID!
  "The enterprise's account as an employer 缴存单位; null when it has none."
  providentFundEmployer: FundEmployer
}

"A real-estate unit, by unit number 不动产单元号."
type Property @key(fields: "unitNumber") {
  unitNumber: ID!
}

"A personal housing provident fund account 住房公积金个人账户."
type FundAccount @key(fields: "accountNumber") {
  accountNumber: ID!
  holder: Person!
  "The employer paying into the account; null for a sealed, closed or self-paid (灵活就业) account."
  employer: Enterprise
  status: FundAccountStatus!
  openedAt: String!
  "The monthly contribution base 缴存基数 of the current year, in yuan."
  monthlyBase: Float!
  "Employer and personal rates together (0.10 to 0.24)."
  contributionRate: Float!
  balance: Float!
  "The last 36 months at most, newest first."
  contributions: [FundContribution!]!
  "Provident-fund home loans 公积金贷款, newest first."
  loans: [FundLoan!]!
  "Withdrawals 提取, newest first."
  withdrawals: [FundWithdrawal!]!
}

"NORMAL 正常; SEALED 封存 (nothing paid in, balance kept); CLOSED 销户."
enum FundAccountStatus { NORMAL SEALED CLOSED }

"One month's contribution 汇缴."
type FundContribution {
  period: String!
  "Paid by the employer; 0 for a self-paid account, whose holder pays both parts."
  employerAmount: Float!
  personalAmount: Float!
  paidAt: String!
}

"A provident-fund home loan 公积金贷款."
type FundLoan {
  loanNumber: ID!
  amount: Float!
  outstanding: Float!
  startedAt: String!
  termMonths: Int!
  status: FundLoanStatus!
  "The home it bought, when that home is in the real-estate registry."
  property: Property
}

enum FundLoanStatus { REPAYING SETTLED OVERDUE }

"A withdrawal 提取."
type FundWithdrawal {
  withdrawnAt: String!
  amount: Float!
  reason: FundWithdrawalReason!
}

enum FundWithdrawalReason { HOUSE_PURCHASE RENT LOAN_REPAYMENT RETIREMENT }

"An employer's account 住房公积金单位账户."
type FundEmployer @key(fields: "employerAccountNumber") {
  employerAccountNumber: ID!
  enterprise: Enterprise!
  status: FundEmployerStatus!
  openedAt: String!
  "Accounts paid into through this employer."
  employees: Int!
  "Months unpaid after lastPaidPeriod, up to the last period (0 when CLOSED)."
  arrearsMonths: Int!
  "The last period paid (YYYY-MM); null when the employer never paid."
  lastPaidPeriod: String
}

"NORMAL 正常; SUSPENDED 暂停缴存; CLOSED 注销."
enum FundEmployerStatus { NORMAL SUSPENDED CLOSED }
`;

/** Most representations one `_entities` call may carry. */
export const MAX_REPRESENTATIONS = 100;

/** The key field of each entity type, which a representation must carry as a string. */
const ENTITY_KEYS: Readonly<Record<string, string>> = {
  Person: 'idNumber',
  Enterprise: 'creditCode',
  Property: 'unitNumber',
  FundAccount: 'accountNumber',
  FundEmployer: 'employerAccountNumber',
};

/** A personal account number: the holder's 6-digit region code and a 10-digit serial. */
const ACCOUNT_NUMBER = /^\d{16}$/;
/** An employer account number: the enterprise's 6-digit region code and an 8-digit serial. */
const EMPLOYER_ACCOUNT_NUMBER = /^\d{14}$/;

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** Refuses an argument that cannot be an account number, naming the argument and the shape expected. */
function checkedNumber(value: string, pattern: RegExp, argument: string, shape: string): string {
  if (!pattern.test(value)) throw badInput(`"${argument}" must be ${shape}`);
  return value;
}

/**
 * Checks the representations of one `_entities` call before any is resolved: at most
 * MAX_REPRESENTATIONS, each an object naming an entity type of this subgraph and carrying its
 * key as a string. The message names the position, never the value (it may be personal data).
 */
function checkRepresentations(representations: unknown): void {
  if (!Array.isArray(representations)) throw badInput('"representations" must be a list');
  if (representations.length > MAX_REPRESENTATIONS) {
    throw badInput(`_entities accepts at most ${MAX_REPRESENTATIONS} representations per call, got ${representations.length}`);
  }
  for (let i = 0; i < representations.length; i++) {
    const r: unknown = representations[i];
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw badInput(`representations[${i}] must be an object with "__typename" and the key field`);
    const typename = (r as { __typename?: unknown }).__typename;
    const key = typeof typename === 'string' ? ENTITY_KEYS[typename] : undefined;
    if (key === undefined) {
      throw badInput(`representations[${i}] has "__typename" ${JSON.stringify(typename ?? null)}; this subgraph resolves ${Object.keys(ENTITY_KEYS).join(', ')}`);
    }
    if (typeof (r as Record<string, unknown>)[key] !== 'string') throw badInput(`representations[${i}] (${typename}) needs "${key}" as a string`);
  }
}

/** Builds the executable subgraph schema over the store. */
export function createHousingFundSchema(store: HousingFundStore): GraphQLSchema {
  const resolvers = {
    Query: {
      fundAccount: (_: unknown, args: { accountNumber: string }): FundAccountRow | null =>
        store.accounts.get(checkedNumber(args.accountNumber, ACCOUNT_NUMBER, 'accountNumber', 'a personal account number: 16 digits (region code and serial)')) ?? null,
      fundEmployer: (_: unknown, args: { employerAccountNumber: string }): FundEmployerRow | null =>
        store.employers.get(checkedNumber(args.employerAccountNumber, EMPLOYER_ACCOUNT_NUMBER, 'employerAccountNumber', 'an employer account number: 14 digits (region code and serial)')) ?? null,
    },
    // Any person or enterprise resolves (an unknown or malformed key simply has no account).
    Person: {
      __resolveReference: (ref: { idNumber: string }) => ({ idNumber: ref.idNumber }),
      providentFund: (person: { idNumber: string }): FundAccountRow | null => store.accountsByHolder.get(person.idNumber) ?? null,
    },
    Enterprise: {
      __resolveReference: (ref: { creditCode: string }) => ({ creditCode: ref.creditCode }),
      providentFundEmployer: (enterprise: { creditCode: string }): FundEmployerRow | null => store.employersByCreditCode.get(enterprise.creditCode) ?? null,
    },
    Property: {
      __resolveReference: (ref: { unitNumber: string }) => ({ unitNumber: ref.unitNumber }),
    },
    FundAccount: {
      __resolveReference: (ref: { accountNumber: string }): FundAccountRow | null => store.accounts.get(ref.accountNumber) ?? null,
      holder: (account: FundAccountRow) => ({ idNumber: account.idNumber }),
      employer: (account: FundAccountRow) => (account.employerCreditCode === null ? null : { creditCode: account.employerCreditCode }),
    },
    FundLoan: {
      property: (loan: FundLoanRow) => (loan.unitNumber === null ? null : { unitNumber: loan.unitNumber }),
    },
    FundEmployer: {
      __resolveReference: (ref: { employerAccountNumber: string }): FundEmployerRow | null => store.employers.get(ref.employerAccountNumber) ?? null,
      enterprise: (employer: FundEmployerRow) => ({ creditCode: employer.creditCode }),
    },
  };
  const schema = buildSubgraphSchema({ typeDefs: parse(HOUSING_FUND_SDL), resolvers });
  // Put the checks in front of @apollo/subgraph's own `_entities` resolver, whatever the
  // representations came in (a variable or a literal).
  const entities = schema.getQueryType()?.getFields()._entities;
  const resolveEntities = entities?.resolve;
  if (!entities || !resolveEntities) throw new Error('the subgraph schema has no _entities field');
  entities.resolve = ((source, args: { representations?: unknown }, context, info) => {
    checkRepresentations(args.representations);
    return resolveEntities(source, args, context, info);
  }) as GraphQLFieldResolver<unknown, unknown>;
  return schema;
}
