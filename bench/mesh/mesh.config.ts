/**
 * Baseline B3: GraphQL Mesh (v1, the current generation: Mesh Compose + Hive Gateway runtime) over
 * the department systems it can wrap. The compose step runs at bench time, with the sandboxes'
 * addresses in SS_URL and MR_URL, and writes the supergraph the gateway serves (bench/mesh/gateway.ts).
 *
 * - social security and market regulation: `@omnigraph/openapi` over the minimal OpenAPI
 *   documents beside this file (the sandboxes publish none);
 * - tax (SOAP 1.1) and real estate (PostgreSQL) are not wrapped: see bench/README.md, "B3".
 */
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('SocialSecurity', {
        source: './social-security.openapi.json',
        endpoint: required('SS_URL'),
        operationHeaders: { 'x-api-key': process.env.SS_API_KEY ?? 'sandbox-social-security-key' },
        // A POST that only reads: exposed as a query field, not a mutation.
        selectQueryOrMutationField: [{ fieldName: 'insuredBatch', type: 'Query' }],
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('MarketRegulation', {
        source: './market-regulation.openapi.json',
        endpoint: required('MR_URL'),
      }),
    },
  ],
});
