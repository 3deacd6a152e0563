/**
 * The queries the benchmark sends and the request bodies built from the pools. The property
 * transfer and living-allowance queries are the worked examples of `src/cli/examples.ts`; the
 * "parties" query is the part of the property transfer that the Mesh baseline can also answer
 * (market regulation and social security: see bench/mesh/README section of bench/README.md).
 */
import { LIVING_ALLOWANCE_FUND_QUERY, LIVING_ALLOWANCE_QUERY, PROPERTY_TRANSFER_QUERY } from '../../src/cli/examples';
import type { Pools, TransferCase, TransferVariables } from './pools';

/**
 * The seller and the buyer of a property transfer from the two departments the Mesh baseline
 * wraps: the seller's status and abnormal-operation listings (market regulation), the buyer's
 * name (social security). On the hub: one call to each department.
 */
export const TRANSFER_PARTIES_QUERY = /* GraphQL */ `
query TransferParties($seller: ID!, $buyer: ID!) {
  seller: enterprise(creditCode: $seller) { creditCode name status abnormalOperations { reason listedAt removedAt } }
  buyer: person(idNumber: $buyer) { idNumber name }
}
`;

/**
 * The same question to the Mesh gateway, over the operations its OpenAPI sources expose: the same
 * upstream calls the hub's connectors make (`GET /v1/enterprises?creditCodes=`, `POST
 * /api/v1/insured/batch` with 120 months, as the social-security connector always asks).
 */
export const MESH_TRANSFER_PARTIES_QUERY = /* GraphQL */ `
query TransferParties($seller: [String]!, $buyer: [String]!) {
  seller: enterprisesBatch(creditCodes: $seller) { items { creditCode name status abnormalOperations { reason listedAt removedAt } } }
  buyer: insuredBatch(input: { ids: $buyer, months: 120 }) { items { idNumber name } }
}
`;

const compact = (query: string): string => query.replace(/\s+/g, ' ').trim();

/** A GraphQL-over-HTTP request body. */
export function body(query: string, variables: Record<string, unknown>): string {
  return JSON.stringify({ query: compact(query), variables });
}

/** Bodies of the property-transfer query for the given cases. */
export function transferBodies(cases: readonly TransferCase[]): string[] {
  return cases.map((c) => body(PROPERTY_TRANSFER_QUERY, { ...c.variables }));
}

/** The property-transfer body of one set of variables. */
export function transferBody(variables: TransferVariables): string {
  return body(PROPERTY_TRANSFER_QUERY, { ...variables });
}

/** Bodies of the parties query on the hub. */
export function partiesBodies(cases: readonly TransferCase[]): string[] {
  return cases.map((c) => body(TRANSFER_PARTIES_QUERY, { seller: c.variables.seller, buyer: c.variables.buyer }));
}

/** Bodies of the parties query on the Mesh gateway. */
export function meshPartiesBodies(cases: readonly TransferCase[]): string[] {
  return cases.map((c) => body(MESH_TRANSFER_PARTIES_QUERY, { seller: [c.variables.seller], buyer: [c.variables.buyer] }));
}

/** Bodies of the living-allowance query, one per family list. */
export function livingAllowanceBodies(pools: Pools): string[] {
  return pools.families.map((family) => body(LIVING_ALLOWANCE_QUERY, { family }));
}

/** Bodies of the living-allowance query over the given lists of persons (S3-10, S3, S3-100, B2-S3). */
export function familyBodies(families: readonly string[][]): string[] {
  return families.map((family) => body(LIVING_ALLOWANCE_QUERY, { family }));
}

/** Bodies of the living-allowance query with the housing provident fund (S3f), one per family list. */
export function livingAllowanceFundBodies(pools: Pools): string[] {
  return pools.families.map((family) => body(LIVING_ALLOWANCE_FUND_QUERY, { family }));
}
