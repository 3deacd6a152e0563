import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type HTTPGraphQLRequest } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, graphql as executeGraphQL, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import {
  CONSENT_HEADER,
  createRequestPath,
  HubError,
  HubErrorCode,
  ReplayGuardUnavailableError,
  UnauthenticatedError,
  type AllowedDecision,
  type Caller,
  type Gateway,
  type GatewayReply,
  type RequestContext,
} from '../gateway';

/** Settings of the hub's HTTP server. */
export interface HubServerOptions {
  gateway: Gateway;
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

function parseGraphQLBody(raw: Buffer): { query: string; variables?: unknown; operationName?: unknown } {
  let body: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RequestError(400, 'Request body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RequestError(400, 'Request body must be a JSON object with "query"');
  if (typeof body.query !== 'string') throw new RequestError(400, 'Request body needs a "query" string');
  if (body.variables !== undefined && body.variables !== null && (typeof body.variables !== 'object' || Array.isArray(body.variables))) {
    throw new RequestError(400, '"variables" must be a JSON object');
  }
  if (body.operationName !== undefined && body.operationName !== null && typeof body.operationName !== 'string') {
    throw new RequestError(400, '"operationName" must be a string');
  }
  return body as { query: string; variables?: unknown; operationName?: unknown };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
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
  const { logger, gateway } = options;
  const { connectors } = gateway;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const grace = options.shutdownGraceMs ?? 10_000;
  const inFlight = new Set<AbortController>();
  let closing = false;

  const apollo = new ApolloServer<RequestContext>({
    schema: gateway.schema,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      {
        async requestDidStart() {
          return {
            async willSendResponse({ response, contextValue, request }) {
              if (response.body.kind !== 'single') return;
              const result = response.body.singleResult as GatewayReply;
              const ok = await finishReply(result, contextValue, request.query ?? '', request.variables ?? {}, request.operationName ?? null);
              if (!ok) response.http.status = 503;
            },
          };
        },
      },
    ],
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

  const path = createRequestPath(gateway, logger);
  const { finishReply, recordRefusal } = path;

  function sendErrors(res: http.ServerResponse, status: number, requestId: string, errors: GraphQLFormattedError[], headers: Record<string, string> = {}): void {
    sendJson(res, status, { errors }, { 'x-request-id': requestId, ...headers });
  }

  async function graphql(req: http.IncomingMessage, res: http.ServerResponse, requestId: string, url: URL): Promise<void> {
    if (req.method !== 'POST') {
      sendJson(res, 405, { errors: [{ message: 'Use POST for /graphql', extensions: { code: 'BAD_REQUEST' } }] }, { allow: 'POST', 'x-request-id': requestId });
      return;
    }
    const raw = await readBody(req, bodyLimit);

    // 1. Who asks, and why: nothing is parsed or executed for a request that does not verify.
    let caller: Caller | null = null;
    if (gateway.security === 'signed') {
      try {
        caller = await path.authenticate(headerValue(req.headers.authorization), raw);
      } catch (error) {
        if (error instanceof ReplayGuardUnavailableError) {
          // Fail closed: a request whose id cannot be checked for replay is not executed.
          logger.warn({ requestId, code: error.code, cause: (error.cause as Error | undefined)?.message }, 'replay guard unavailable: request refused');
          await recordRefusal(requestId, null, null, null, 'FAILED', [HubErrorCode.UNAUTHENTICATED]);
          sendErrors(res, 503, requestId, [{ message: 'The replay guard is unavailable: the request cannot be checked and is refused; retry later.', extensions: { code: HubErrorCode.UNAUTHENTICATED, reason: error.code } }], { 'retry-after': '1' });
          return;
        }
        if (!(error instanceof UnauthenticatedError)) throw error;
        const extensions = { code: HubErrorCode.UNAUTHENTICATED, reason: error.reason, ...(error.claim ? { claim: error.claim } : {}) };
        await recordRefusal(requestId, null, null, null, 'DENIED', [HubErrorCode.UNAUTHENTICATED]);
        sendErrors(res, 401, requestId, [{ message: error.message, extensions }], { 'www-authenticate': 'DatarunRequest error="invalid_token"' });
        return;
      }
    }

    // Per-consumer rate limit, shared by every instance: after authentication, so nobody can spend another consumer's budget.
    if (caller) {
      const decision = await gateway.rateLimiter.take(caller.consumer);
      if (!decision.allowed) {
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        await recordRefusal(requestId, caller, null, null, 'DENIED', [HubErrorCode.RATE_LIMITED]);
        sendErrors(res, 429, requestId, [{ message: `Too many requests from this consumer: retry after ${seconds} s.`, extensions: { code: HubErrorCode.RATE_LIMITED, retryAfterMs: decision.retryAfterMs } }], { 'retry-after': String(seconds) });
        return;
      }
    }

    let body: { query: string; variables?: unknown; operationName?: unknown };
    try {
      body = parseGraphQLBody(raw);
    } catch (error) {
      if (error instanceof RequestError) await recordRefusal(requestId, caller, null, null, 'FAILED', ['BAD_REQUEST']);
      throw error;
    }
    const variables = (body.variables ?? {}) as Record<string, unknown>;
    const operationName = (body.operationName ?? null) as string | null;

    // 2. May they? The whole operation is checked before any department is asked.
    let decision: AllowedDecision | null = null;
    if (caller) {
      let checked;
      try {
        checked = await path.checkPolicy(caller, { document: body.query, operationName, variables, consentHeader: headerValue(req.headers[CONSENT_HEADER]) });
      } catch (error) {
        if (error instanceof GraphQLError) {
          const code = error instanceof HubError ? error.code : 'GRAPHQL_PARSE_FAILED';
          await recordRefusal(requestId, caller, null, body.query, 'FAILED', [code]);
          sendErrors(res, 400, requestId, [{ message: error.message, ...(error.locations ? { locations: error.locations } : {}), extensions: { ...error.extensions, code } }]);
          return;
        }
        throw error;
      }
      if (!checked.allowed) {
        const { http: _status, ...extensions } = checked.error.extensions as Record<string, unknown>;
        await recordRefusal(requestId, caller, checked, body.query, 'DENIED', [HubErrorCode.POLICY_DENIED]);
        sendErrors(res, 403, requestId, [{ message: checked.error.message, extensions }]);
        return;
      }
      decision = checked;
    }

    // 3. Execute, through per-request loaders; 4. mask, seal, sign the receipt (in willSendResponse).
    const controller = new AbortController();
    inFlight.add(controller);
    // Removed when the request ends: a keep-alive socket serves many requests and must not collect a listener per request.
    const abortOnClose = (): void => controller.abort();
    req.socket.once('close', abortOnClose);
    const context: RequestContext = path.createContext({ requestId, signal: controller.signal, caller, decision });
    try {
      if (decision?.introspection) {
        // Introspection runs against the caller's own view of the schema.
        const result = JSON.parse(JSON.stringify(await executeGraphQL({ schema: decision.schema, source: body.query, variableValues: variables, operationName, contextValue: context }))) as GatewayReply;
        const ok = await finishReply(result, context, body.query, variables, operationName);
        sendJson(res, ok ? 200 : 503, result, { 'x-request-id': requestId });
        return;
      }
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const httpGraphQLRequest: HTTPGraphQLRequest = { method: 'POST', headers, search: url.search, body };
      const response = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: async () => context });
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
      req.socket.off('close', abortOnClose);
      inFlight.delete(controller);
    }
  }

  async function readiness(res: http.ServerResponse): Promise<void> {
    const reports = await Promise.all(connectors.map((c) => c.health()));
    const audit = gateway.audit ? gateway.audit.health() : undefined;
    const state = gateway.state.health();
    const ready = !closing && reports.every((r) => r.ok) && (audit === undefined || audit.writable) && state.ok;
    sendJson(res, ready ? 200 : 503, {
      ready,
      connectors: reports,
      ...(audit ? { audit: { writable: audit.writable, seq: audit.seq, ...(audit.reason ? { reason: audit.reason } : {}) } } : {}),
      state,
    });
  }

  // 64 KiB of headers: a living-allowance check carries one consent token per family member.
  const server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
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
    } else if (url.pathname === '/.well-known/jwks.json' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, 200, gateway.keyStore.publicJwks(), { 'cache-control': 'public, max-age=300', 'x-request-id': requestId }));
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
