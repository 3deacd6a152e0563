/**
 * The worked queries of the seeds' cases, shared by the README, the ready message of
 * `datarun serve`, the end-to-end tests and the benchmarks.
 */
import type { SeedData } from '../../departments';
import type { ExplorerExample } from '../http';

/** 不动产转移登记: the unit's certificate, owners, mortgages and seizures; the seller; the buyer's deed tax; an enterprise party's status. */
export const PROPERTY_TRANSFER_QUERY = /* GraphQL */ `
query PropertyTransfer($unitNumber: ID!, $seller: ID!, $buyer: ID!) {
  property(unitNumber: $unitNumber) {
    unitNumber
    certificateNumber
    address
    area
    usage
    owners { share kind owner { ...Party } }
    mortgages { registrationNumber mortgagee amount status }
    seizures { seizureNumber court caseNumber status }
    transfers { date price from { ...Party } to { ...Party } }
  }
  seller: enterprise(creditCode: $seller) {
    creditCode
    name
    status
    abnormalOperations { reason listedAt removedAt }
    taxStatus { creditRating hasArrears }
  }
  buyer: person(idNumber: $buyer) {
    idNumber
    name
    taxRecords {
      hasArrears
      payments(taxType: DEED) { voucherNumber amount paidAt property { unitNumber } }
    }
  }
}
fragment Party on Party {
  __typename
  ... on Person { idNumber name }
  ... on Enterprise { creditCode name status }
}
`;

/** 低保家庭经济状况核对: for every family member, properties, income tax, insurance contributions, enterprises held. */
export const LIVING_ALLOWANCE_QUERY = /* GraphQL */ `
query LivingAllowance($family: [ID!]!) {
  people(idNumbers: $family) {
    idNumber
    name
    birthDate
    properties { unitNumber address area usage }
    taxRecords { payments(taxType: INDIVIDUAL_INCOME) { period amount } }
    socialInsurance { scheme status contributions(last: 6) { period insuranceType base amount } }
    enterprises { creditCode name status registeredCapital }
  }
}
`;

/**
 * The same check with the housing provident fund 住房公积金 as well: each member's fund account
 * (balance, deposits, withdrawals, loans), which counts towards the family's assets and income.
 */
export const LIVING_ALLOWANCE_FUND_QUERY = LIVING_ALLOWANCE_QUERY.replace('query LivingAllowance(', 'query LivingAllowanceWithFund(').replace(
  '    enterprises { creditCode name status registeredCapital }\n',
  '    enterprises { creditCode name status registeredCapital }\n    providentFund { status balance monthlyBase contributions { period employerAmount personalAmount } withdrawals { withdrawnAt amount reason } loans { amount outstanding status } }\n',
);

/** Variables of the property-transfer query: a unit an enterprise sold to a person. */
export function propertyTransferExample(data: SeedData): { unitNumber: string; seller: string; buyer: string } {
  const property = data.properties.find((p) => p.transfers.some((t) => t.fromKind === 'ENTERPRISE' && t.toKind === 'PERSON'));
  if (!property) throw new Error('The seed has no unit sold by an enterprise to a person; use a larger size');
  const transfer = property.transfers.find((t) => t.fromKind === 'ENTERPRISE' && t.toKind === 'PERSON')!;
  return { unitNumber: property.unitNumber, seller: transfer.fromId, buyer: transfer.toId };
}

/** Variables of the living-allowance query: the largest household among the first ones. */
export function livingAllowanceExample(data: SeedData): { family: string[] } {
  const households = new Map<string, string[]>();
  for (const p of data.persons) {
    const members = households.get(p.householdId) ?? [];
    members.push(p.idNumber);
    households.set(p.householdId, members);
  }
  let family: string[] = [];
  for (const members of households.values()) if (members.length > family.length) family = members;
  return { family };
}

/** The worked queries the open mode's explorer opens in its tabs (GET /), with the seed's variables. */
export function explorerExamples(data: SeedData): ExplorerExample[] {
  return [
    { name: 'property-transfer', query: PROPERTY_TRANSFER_QUERY.trim(), variables: propertyTransferExample(data) },
    { name: 'living-allowance', query: LIVING_ALLOWANCE_QUERY.trim(), variables: livingAllowanceExample(data) },
    { name: 'living-allowance-fund', query: LIVING_ALLOWANCE_FUND_QUERY.trim(), variables: livingAllowanceExample(data) },
  ];
}
