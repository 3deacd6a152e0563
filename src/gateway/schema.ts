import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import type { Connector, Resolvers } from '../sdk';
import { rootResolvers } from './root-resolvers';

/** Where the SDL lives: `schema/` at the project root (also from `dist/`). */
export const SCHEMA_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../schema' : '../../schema');

/** The SDL files of the graph, shared part first, as one string per file. */
export function loadTypeDefs(dir: string = SCHEMA_DIR): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort((a, b) => (a === 'shared.graphql' ? -1 : b === 'shared.graphql' ? 1 : a.localeCompare(b)));
  if (files.length === 0) throw new Error(`No .graphql files in ${dir}`);
  return files.map((f) => readFileSync(path.join(dir, f), 'utf8'));
}

function mergeResolvers(all: readonly Resolvers[], owners: readonly string[]): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  const ownerOf = new Map<string, string>();
  all.forEach((resolvers, i) => {
    for (const [typeName, fields] of Object.entries(resolvers as Record<string, Record<string, unknown>>)) {
      const target = (merged[typeName] ??= {});
      for (const [field, resolver] of Object.entries(fields)) {
        const coordinate = `${typeName}.${field}`;
        const previous = ownerOf.get(coordinate);
        if (previous !== undefined) throw new Error(`${coordinate} is resolved by both "${previous}" and "${owners[i]}"`);
        ownerOf.set(coordinate, owners[i]!);
        target[field] = resolver;
      }
    }
  });
  return merged as Resolvers;
}

/**
 * Builds the one executable schema: the SDL of schema/ with the shared resolvers and every
 * connector's resolvers. A resolver for a field the schema does not have, or a field resolved by
 * two connectors, fails the build.
 */
export function buildHubSchema(connectors: readonly Connector[], typeDefs: string[] = loadTypeDefs(), hubResolvers: readonly Resolvers[] = []): GraphQLSchema {
  const resolvers = mergeResolvers(
    [rootResolvers, ...hubResolvers, ...connectors.map((c) => c.resolvers)],
    ['shared', ...hubResolvers.map((_, i) => `hub#${i}`), ...connectors.map((c) => c.id)],
  );
  return makeExecutableSchema({
    typeDefs,
    resolvers: resolvers as never,
    resolverValidationOptions: { requireResolversToMatchSchema: 'error', requireResolversForResolveType: 'error' },
  });
}
