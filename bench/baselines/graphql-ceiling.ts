/**
 * Row C, the GraphQL ceiling: graphql-js `execute` over a document parsed and validated once and
 * kept, on a minimal `node:http` server, with the same schema (the hub's own SDL) and the same
 * data as B1 (the hub's reply to the worked example, from memory). No Apollo, no department, no
 * policy: what answering the query costs in GraphQL and HTTP at the least, so that every row shows
 * its distance from that limit.
 *
 * Env: C_REPLY_FILE (JSON `{ "data": ... }`), C_PORT (0). Prints `C ready at <url> (event loop <url>)`.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, parse, validate, type DocumentNode, type ExecutionResult } from 'graphql';
import { loadTypeDefs } from '../../src/gateway/schema';
import { serveEventLoopDelay } from './event-loop';

interface Reply {
  data: { property: unknown; seller: unknown; buyer: unknown };
}

/** Documents kept by query text: the bench sends one, a bound keeps a stray client from growing it. */
const MAX_DOCUMENTS = 64;
/** Request bodies larger than this are refused (the worked example is about 1 KiB). */
const MAX_BODY_BYTES = 1 << 20;

const reply = JSON.parse(readFileSync(process.env.C_REPLY_FILE ?? '', 'utf8')) as Reply;
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

/** Parsed and validated documents by query text; only valid ones are kept. */
const documents = new Map<string, DocumentNode>();

/** The document of `query`, parsed and validated once; the errors instead when it is not valid. */
function documentOf(query: string): DocumentNode | { errors: readonly { message: string }[] } {
  const known = documents.get(query);
  if (known) return known;
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    return { errors: [{ message: error instanceof Error ? error.message : String(error) }] };
  }
  const errors = validate(schema, document);
  if (errors.length > 0) return { errors: errors.map((e) => ({ message: e.message })) };
  if (documents.size >= MAX_DOCUMENTS) documents.delete(documents.keys().next().value!);
  documents.set(query, document);
  return document;
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

async function answer(body: string): Promise<{ status: number; value: unknown }> {
  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    return { status: 400, value: { errors: [{ message: 'the body is not JSON' }] } };
  }
  if (typeof request.query !== 'string') return { status: 400, value: { errors: [{ message: 'the body has no "query" string' }] } };
  const document = documentOf(request.query);
  if (!('kind' in document)) return { status: 400, value: document };
  const result: ExecutionResult = await execute({
    schema,
    document,
    ...(request.variables && typeof request.variables === 'object' ? { variableValues: request.variables as Record<string, unknown> } : {}),
    ...(typeof request.operationName === 'string' ? { operationName: request.operationName } : {}),
  });
  return { status: 200, value: result };
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return send(res, 405, { errors: [{ message: 'POST a GraphQL request' }] });
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      send(res, 413, { errors: [{ message: `the body is over ${MAX_BODY_BYTES} bytes` }] });
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => {
    answer(Buffer.concat(chunks).toString('utf8')).then(
      ({ status, value }) => send(res, status, value),
      (error: unknown) => send(res, 500, { errors: [{ message: error instanceof Error ? error.message : 'failed' }] }),
    );
  });
});
server.keepAliveTimeout = 65_000;

void serveEventLoopDelay().then((eventLoopUrl) => {
  server.listen(Number(process.env.C_PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`C ready at http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql (event loop ${eventLoopUrl})\n`);
  });
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
