import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type HTTPGraphQLRequest } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { createHubContext, HubError, HubErrorCode, type Connector, type HubContext } from '../sdk';

/** Settings of the hub's HTTP server. */
export interface HubServerOptions {
  schema: GraphQLSchema;
  connectors: readonly Connector[];
  logger: Logger;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 4000 */
  port?: number;
  /** @default 1048576 */
  bodyLimitBytes?: number;
  /** @default 10000 */
  shutdownGraceMs?: number;
  /** Extra routes tried before the 404 (the embedded sandboxes' control routes); returns true when it answered. */
  extraRoutes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

/** A running hub. */
export interface HubServer {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly server: http.Server;
  /** Stops accepting requests, lets those in flight finish (up to the grace period), then stops. */
  close(): Promise<void>;
}

/** Error codes produced by GraphQL itself that reach clients unchanged. */
const GRAPHQL_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

class RequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new RequestError(413, `Request body exceeds ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new RequestError(413, `Request body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Starts the hub's HTTP server: `POST /graphql`, `GET /healthz`, `GET /readyz`. */
export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const { logger, connectors } = options;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const grace = options.shutdownGraceMs ?? 10_000;
  const inFlight = new Set<AbortController>();
  let closing = false;

  const apollo = new ApolloServer<HubContext>({
    schema: options.schema,
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginLandingPageDisabled()],
    formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
      const original = unwrapResolverError(error);
      if (original instanceof HubError) return formatted;
      const code = formatted.extensions?.code;
      if (typeof code === 'string' && GRAPHQL_CODES.has(code)) return formatted;
      // Unexpected: keep the details in our log only (without the message, which might hold data).
      logger.error({ err: { name: (original as Error | undefined)?.name, stack: (original as Error | undefined)?.stack?.split('\n').slice(1, 6).join('\n') }, path: formatted.path }, 'unexpected resolver error');
      return { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } };
    },
  });
  await apollo.start();

  async function graphql(req: http.IncomingMessage, res: http.ServerResponse, requestId: string, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      sendJson(res, 405, { errors: [{ message: 'Use POST for /graphql', extensions: { code: 'BAD_REQUEST' } }] }, { allow: 'POST', 'x-request-id': requestId });
      return;
    }
    const raw = await readBody(req, bodyLimit);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new RequestError(400, 'Request body is not valid JSON');
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const controller = new AbortController();
    inFlight.add(controller);
    req.socket.once('close', () => controller.abort());
    try {
      const httpGraphQLRequest: HTTPGraphQLRequest = { method: 'POST', headers, search: url.search, body };
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest,
        context: async () => createHubContext({ requestId, signal: controller.signal }),
      });
      res.statusCode = response.status ?? 200;
      for (const [name, value] of response.headers) res.setHeader(name, value);
      res.setHeader('x-request-id', requestId);
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
      } else {
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } finally {
      inFlight.delete(controller);
    }
  }

  async function readiness(res: http.ServerResponse): Promise<void> {
    const reports = await Promise.all(connectors.map((c) => c.health()));
    const ready = !closing && reports.every((r) => r.ok);
    sendJson(res, ready ? 200 : 503, { ready, connectors: reports });
  }

  const server = http.createServer((req, res) => {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    const url = new URL(req.url ?? '/', 'http://hub');
    let work: Promise<void>;
    if (url.pathname === '/graphql') {
      if (closing) {
        sendJson(res, 503, { errors: [{ message: 'The hub is shutting down', extensions: { code: 'CONNECTOR_UNAVAILABLE' } }] }, { 'x-request-id': requestId, connection: 'close' });
        return;
      }
      work = graphql(req, res, requestId, url);
    } else if (url.pathname === '/healthz' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok' }, { 'x-request-id': requestId }));
    } else if (url.pathname === '/readyz' && req.method === 'GET') {
      work = readiness(res);
    } else if (options.extraRoutes?.(req, res)) {
      return;
    } else {
      work = Promise.resolve(sendJson(res, 404, { error: `No route for ${req.method ?? 'GET'} ${url.pathname}` }, { 'x-request-id': requestId }));
    }
    work.catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof RequestError) {
        sendJson(res, error.status, { errors: [{ message: error.message, extensions: { code: 'BAD_REQUEST' } }] }, { 'x-request-id': requestId });
      } else {
        logger.error({ err: { name: (error as Error)?.name }, requestId }, 'request failed');
        sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } }] }, { 'x-request-id': requestId });
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + grace;
        while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const controller of inFlight) controller.abort();
        server.closeAllConnections();
        await stopped;
        await apollo.stop();
      })();
      return closed;
    },
  };
}
