/**
 * Resolvers of schema/market-regulation.graphql. Every field reads its parent's identifier and
 * goes through the request's loaders, so all the fields of all the enterprises of one nesting
 * level cost one batched call.
 */
import type { EnterpriseRef, HubContext, PersonRef, Resolvers } from '../../src/sdk';
import type DataLoader from 'dataloader';
import type { EnterpriseRecord } from './schemas';

/** The per-request loaders of the market-regulation connector. */
export interface MarketRegulationLoaders {
  /** The primary loader: an enterprise by unified social credit code; null when the department does not know it. */
  enterpriseByCode: DataLoader<string, EnterpriseRecord | null>;
  /** The enterprises a person is the legal representative of, by citizen identity number; [] when none. */
  enterprisesByLegalRep: DataLoader<string, EnterpriseRecord[]>;
}

/** Builds the resolvers; `loaders(ctx)` returns the request's loaders. */
export function createMarketRegulationResolvers(loaders: (context: HubContext) => MarketRegulationLoaders): Resolvers {
  /** A field of the enterprise's record; null when the department has no record of the enterprise. */
  const field =
    <T>(pick: (record: EnterpriseRecord) => T) =>
    async (parent: EnterpriseRef, _args: unknown, context: HubContext): Promise<T | null> => {
      const record = await loaders(context).enterpriseByCode.load(parent.creditCode);
      return record === null ? null : pick(record);
    };

  return {
    Person: {
      enterprises: async (parent: PersonRef, _args, context) => {
        const records = await loaders(context).enterprisesByLegalRep.load(parent.idNumber);
        // References only: other departments resolve their own Enterprise fields from the credit code.
        return records.map((record): EnterpriseRef => ({ creditCode: record.creditCode }));
      },
    },
    Enterprise: {
      name: field((r) => r.name),
      kind: field((r) => r.kind),
      status: field((r) => r.status),
      legalRepresentative: field((r): PersonRef => ({ idNumber: r.legalRepIdNumber })),
      registeredCapital: field((r) => r.registeredCapital),
      establishedAt: field((r) => r.establishedAt),
      address: field((r) => r.address),
      industry: field((r) => r.industry),
      licence: field((r) => r.licence),
      permits: field((r) => r.permits),
      penalties: field((r) => r.penalties),
      abnormalOperations: field((r) => r.abnormalOperations),
    },
  };
}
