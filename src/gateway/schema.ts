import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import type { Connector, Resolvers } from '../sdk';
import { BUILTIN_CONNECTORS_DIR } from './connector-modules';
import { rootResolvers } from './root-resolvers';

/** Where the hub's own SDL lives (the shared entities, seals, the catalogue, the access log): `schema/` at the project root (also from `dist/`). */
export const SCHEMA_DIR = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../schema' : '../../schema');

/** The shared SDL of department events: left out of a graph whose connectors report none (its EventType would be empty). */
export const EVENTS_SDL_FILE = 'events.graphql';
/** The hub's SDL of proofs, dropped when no connector declares a proof kind. */
export const PROOFS_SDL_FILE = 'proofs.graphql';

/** The hub's own SDL files, shared part first, as one string per file (but the files named in `without`). */
export function loadSharedTypeDefs(dir: string = SCHEMA_DIR, without: readonly string[] = []): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql') && !without.includes(f)).sort((a, b) => (a === 'shared.graphql' ? -1 : b === 'shared.graphql' ? 1 : a.localeCompare(b)));
  if (files.length === 0) throw new Error(`No .graphql files in ${dir}`);
  return files.map((f) => readFileSync(path.join(dir, f), 'utf8'));
}

/**
 * The SDL of the whole graph as the files of this project give it: the hub's own, then each
 * connector folder's `schema.graphql`, by id. (A running hub takes each connector's SDL from its
 * module instead, which may derive it, as the generic GraphQL connector does.)
 */
export function loadTypeDefs(dir: string = SCHEMA_DIR, connectorsDir: string = BUILTIN_CONNECTORS_DIR): string[] {
  const own = readdirSync(connectorsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(connectorsDir, e.name, 'schema.graphql')))
    .map((e) => e.name)
    .sort();
  return [...loadSharedTypeDefs(dir), ...own.map((id) => readFileSync(path.join(connectorsDir, id, 'schema.graphql'), 'utf8'))];
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
 * Builds the one executable schema: the hub's SDL and the connectors' with the shared resolvers and every
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
