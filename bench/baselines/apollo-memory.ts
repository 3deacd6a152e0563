/**
 * Baseline B1, the GraphQL reference: Apollo Server 5 standalone (`startStandaloneServer`) over
 * the hub's own SDL (schema/), answering the property-transfer query from memory with a reply
 * computed before the run (the hub's answer for the worked example, checked equal to B2's). No
 * department is called: this is what GraphQL parsing, validation, execution and HTTP cost alone.
 *
 * Env: B1_REPLY_FILE (JSON `{ "data": ... }`), B1_PORT (0). Prints `B1 ready at <url> (event loop <url>)`
 * (bench/baselines/event-loop.ts: its event-loop delay, on a listener of its own).
 */
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { loadTypeDefs } from '../../src/gateway/schema';
import { serveEventLoopDelay } from './event-loop';

interface Reply {
  data: { property: unknown; seller: unknown; buyer: unknown };
}

async function main(): Promise<void> {
  const reply = JSON.parse(readFileSync(process.env.B1_REPLY_FILE!, 'utf8')) as Reply;
  const schema = makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: {
      Query: {
        property: () => reply.data.property,
        enterprise: () => reply.data.seller,
        person: () => reply.data.buyer,
      },
      Party: { __resolveType: (party: { __typename: string }) => party.__typename },
    },
  });
  const server = new ApolloServer({ schema, plugins: [ApolloServerPluginLandingPageDisabled()] });
  const { url } = await startStandaloneServer(server, { listen: { port: Number(process.env.B1_PORT ?? 0), host: '127.0.0.1' } });
  const eventLoopUrl = await serveEventLoopDelay();
  process.stdout.write(`B1 ready at ${url.replace(/\/$/, '')} (event loop ${eventLoopUrl})\n`);
  const stop = (): void => {
    void server.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`B1: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
