/**
 * The HTTP adapter of the hub: it reads the request (method, media type, body bytes within the
 * limit, the headers the pipeline needs, the peer address), hands it to `gateway.execute`, and
 * maps the reply's error code to a status through the error registry. It decides nothing: a
 * transport refusal (405, 413, 431, the hub stopping) goes through the pipeline too, so it is
 * recorded like any other outcome.
 */
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { createHandler as createSseHandler } from 'graphql-sse';
import type { Logger } from 'pino';
import { CONSENT_HEADER, errorInfo, FEDERATION_STATEMENT_PATH, HubErrorCode, type Gateway, type HubReply, type HubRequest, type ProofPagesSource, type SubscriptionStream, type TransportRefusal } from '../gateway';
import { createConsoleRoutes } from './console';
import { createFrontRoutes, type ExplorerExample } from './front';
import { acceptsJson, bodyHeadersOf, headerValue, readBody, requestUrl, sendJson } from './io';
import { createProofPageRoutes } from './proof-pages';

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
  /** The worked queries the open mode's explorer opens in its tabs, with their variables (docs/explorer.md). */
  explorerExamples?: readonly ExplorerExample[];
  /**
   * Extra operator routes (the embedded sandboxes' control routes); returns true when it answered.
   * Served like `/metrics`: on the operator listener, or on this one to an administrator's signed request.
   */
  extraRoutes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /**
   * The operator listener: `/metrics`, the detailed `/readyz`, the extra routes and `/healthz`,
   * without authentication (keep it on loopback or a management network). Port 0 picks a free
   * one. Absent or false: none, and those routes answer only an administrator on the main listener.
   */
  operator?: { host?: string; port?: number } | false;
  /**
   * The proof pages (`proof-pages.ts`): `GET /p/<ref>` (a stored proof, printable), `GET /verify`
   * and `POST /verify` (paste a proof, read the verdict). Absent: those routes do not exist.
   */
  proofPages?: ProofPagesSource;
}

/** A running hub. */
export interface HubServer {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  /** Base URL of the operator listener, when there is one. */
  readonly operatorUrl: string | undefined;
  readonly server: http.Server;
  /** Stops accepting requests, lets those in flight finish (up to the grace period), then stops. */
  close(): Promise<void>;
}

/** 64 KiB of headers: a living-allowance check carries one consent token per family member. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Largest body of an operator request on the main listener (a sandbox fault setting): its signature covers it. */
const OPERATOR_BODY_LIMIT = 64 * 1024;
/** A client's correlation id is echoed back only when it is this plain. */
const ECHOABLE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The transport headers of a reply with this code. */
/** The caller's W3C trace context headers, for the request's span (docs/tracing.md). */
function traceContextOf(req: http.IncomingMessage): { traceparent?: string; tracestate?: string } | undefined {
  const traceparent = headerValue(req.headers.traceparent);
  if (traceparent === undefined) return undefined;
  const tracestate = headerValue(req.headers.tracestate);
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

function headersOf(reply: HubReply, correlationId: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'x-request-id': reply.requestId };
  if (correlationId !== undefined && ECHOABLE_ID.test(correlationId)) headers['x-correlation-id'] = correlationId;
  if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
  if (reply.code === HubErrorCode.UNAUTHENTICATED) headers['www-authenticate'] = 'DatarunRequest error="invalid_token"';
  if (reply.code === 'METHOD_NOT_ALLOWED') headers.allow = 'POST';
  if (reply.code === 'SHUTTING_DOWN') headers.connection = 'close';
  return headers;
}

/** The peer address and the `X-Forwarded-For` chain it sent (the pipeline decides which proxies to believe). */
function peerOf(req: http.IncomingMessage): HubRequest['peer'] {
  return { ...(req.socket.remoteAddress ? { address: req.socket.remoteAddress } : {}), ...(req.headers['x-forwarded-for'] ? { forwardedFor: headerValue(req.headers['x-forwarded-for'])! } : {}) };
}

/** Starts the hub's HTTP server: `POST /graphql`, `GET /healthz`, `GET /readyz`, `GET /.well-known/jwks.json`, `GET /.well-known/datarun-federation.jwt` (the JWKS signed by the federation root key), `GET /.well-known/audit-head`, the auditor console under `/console`, the front page `/` (the explorer in the open mode, the landing page when signed), `/departments`, `/docs/`; with `proofPages`, `/p/<ref>` and `/verify`. */
export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const { logger, gateway } = options;
  const { connectors } = gateway;
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const grace = options.shutdownGraceMs ?? 10_000;
  const inFlight = new Set<AbortController>();
  let closing = false;

  function reply(res: http.ServerResponse, answer: HubReply, correlationId: string | undefined): void {
    const status = answer.code === null ? 200 : errorInfo(answer.code).httpStatus;
    sendJson(res, status, answer.body, headersOf(answer, correlationId));
  }

  async function graphql(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const correlationId = headerValue(req.headers['x-request-id']);
    const base: HubRequest = { ...(correlationId !== undefined ? { correlationId } : {}), peer: peerOf(req), ...traceContextOf(req) };
    let refusal: TransportRefusal | undefined;
    if (closing) refusal = { code: 'SHUTTING_DOWN', message: 'The hub is shutting down: retry on another instance.' };
    else if (req.method !== 'POST') refusal = { code: 'METHOD_NOT_ALLOWED', message: 'Use POST for /graphql: queries and mutations alike (GraphQL over HTTP: a mutation is never accepted over GET).' };
    else if (!acceptsJson(headerValue(req.headers.accept))) refusal = { code: 'NOT_ACCEPTABLE', message: 'The hub answers application/json only: accept it.' };
    if (refusal) {
      req.resume();
      reply(res, await gateway.execute({ ...base, refusal }), correlationId);
      return;
    }
    // In flight from here: shutdown waits for a request whose body is still arriving, too.
    const controller = new AbortController();
    inFlight.add(controller);
    // Removed when the request ends: a keep-alive socket serves many requests and must not collect a listener per request.
    const abortOnClose = (): void => controller.abort();
    req.socket.once('close', abortOnClose);
    try {
      let body: Buffer | TransportRefusal;
      try {
        body = await readBody(req, bodyLimit);
      } catch {
        // The client went away in the middle of its body (or the hub cut it at the end of the grace
        // period): still one request, recorded; nobody to answer.
        const cut: TransportRefusal = closing ? { code: 'SHUTTING_DOWN', message: 'The hub shut down before the request body arrived.' } : { code: 'BAD_REQUEST', message: 'The request body was cut off.' };
        await gateway.execute({ ...base, refusal: cut });
        res.destroy();
        return;
      }
      if (!Buffer.isBuffer(body)) {
        const answer = await gateway.execute({ ...base, refusal: body });
        // The rest of the body is not read: the connection cannot carry another request.
        res.setHeader('connection', 'close');
        reply(res, answer, correlationId);
        res.once('finish', () => req.destroy());
        return;
      }
      const authorization = headerValue(req.headers.authorization);
      const consent = headerValue(req.headers[CONSENT_HEADER]);
      const answer = await gateway.execute({
        ...base,
        body,
        ...bodyHeadersOf(req.headers),
        ...(authorization !== undefined ? { authorization } : {}),
        ...(consent !== undefined ? { consent } : {}),
        // The pipeline aborts this same controller at the request's deadline (no second one, no listener).
        controller,
      });
      reply(res, answer, correlationId);
    } finally {
      req.socket.off('close', abortOnClose);
      inFlight.delete(controller);
    }
  }

  /** Subscription streams open on this listener: ended when it closes. */
  const openStreams = new Set<SubscriptionStream>();

  /**
   * `POST /graphql/stream`: a subscription over Server-Sent Events (the GraphQL over SSE protocol,
   * distinct connections mode, framed by graphql-sse). The request is signed like one to
   * /graphql; the pipeline admits it or refuses it with a JSON reply as for any request; admitted,
   * each delivery is one `next` event, and the stream ends with `complete` (docs/events.md).
   */
  async function stream(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const correlationId = headerValue(req.headers['x-request-id']);
    const base: HubRequest = { ...(correlationId !== undefined ? { correlationId } : {}), peer: peerOf(req), ...traceContextOf(req) };
    const accept = headerValue(req.headers.accept) ?? '';
    let refusal: TransportRefusal | undefined;
    if (closing) refusal = { code: 'SHUTTING_DOWN', message: 'The hub is shutting down: open the subscription on another instance.' };
    else if (req.method !== 'POST') refusal = { code: 'METHOD_NOT_ALLOWED', message: 'Open a subscription with POST /graphql/stream.' };
    else if (!/(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)) refusal = { code: 'NOT_ACCEPTABLE', message: 'A subscription answers text/event-stream (GraphQL over Server-Sent Events): accept it.' };
    if (refusal) {
      req.resume();
      reply(res, await gateway.execute({ ...base, refusal }), correlationId);
      return;
    }
    const controller = new AbortController();
    const abortOnClose = (): void => controller.abort();
    req.socket.once('close', abortOnClose);
    let body: Buffer | TransportRefusal;
    try {
      body = await readBody(req, bodyLimit);
    } catch {
      req.socket.off('close', abortOnClose);
      await gateway.execute({ ...base, refusal: { code: 'BAD_REQUEST', message: 'The request body was cut off.' } });
      res.destroy();
      return;
    }
    if (!Buffer.isBuffer(body)) {
      req.socket.off('close', abortOnClose);
      res.setHeader('connection', 'close');
      reply(res, await gateway.execute({ ...base, refusal: body }), correlationId);
      res.once('finish', () => req.destroy());
      return;
    }
    const authorization = headerValue(req.headers.authorization);
    const consent = headerValue(req.headers[CONSENT_HEADER]);
    const opened = await gateway.subscribe({
      ...base,
      body,
      ...bodyHeadersOf(req.headers),
      ...(authorization !== undefined ? { authorization } : {}),
      ...(consent !== undefined ? { consent } : {}),
      signal: controller.signal,
    });
    req.socket.off('close', abortOnClose);
    if (!opened.stream) {
      reply(res, opened.reply, correlationId);
      return;
    }
    const subscription = opened.stream;
    openStreams.add(subscription);
    try {
      const text = body.toString('utf8');
      const handler = createSseHandler({ onSubscribe: () => subscription as AsyncIterable<ExecutionResult> });
      const [out, init] = await handler({
        method: 'POST',
        url: req.url ?? '/graphql/stream',
        headers: { get: (key: string) => headerValue(req.headers[key.toLowerCase()]) ?? null },
        body: text,
        raw: req,
        context: undefined,
      });
      res.writeHead(init.status, init.statusText, { ...init.headers, 'x-request-id': opened.reply.requestId, 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      if (out === null || typeof out === 'string') {
        res.end(out ?? undefined);
        return;
      }
      res.once('close', () => {
        subscription.close();
        void out.return?.(undefined);
      });
      for await (const chunk of out) {
        if (!res.writable) break;
        await new Promise<void>((resolve) => res.write(chunk, () => resolve()));
      }
      res.end();
    } finally {
      subscription.close();
      openStreams.delete(subscription);
    }
  }

  /**
   * Readiness is about this instance, so that a load balancer takes it out of rotation only for
   * what another instance would do better: its access log not writable, its shared state not
   * reachable, or shutting down. A department that is down is down for every instance alike: it
   * is reported (`departments`, `degraded`) but does not make the instance unready.
   */
  async function readiness(res: http.ServerResponse, detail: boolean): Promise<void> {
    const reports = await Promise.all(connectors.map((c) => c.health()));
    const audit = gateway.audit ? gateway.audit.health() : undefined;
    const state = gateway.state.health();
    const ready = !closing && (audit === undefined || audit.writable) && state.ok;
    const down = reports.filter((r) => !r.ok).map((r) => r.connector);
    // The load balancer needs only the answer; what is wrong is for operators.
    if (!detail) return sendJson(res, ready ? 200 : 503, { ready });
    sendJson(res, ready ? 200 : 503, {
      ready,
      ...(closing ? { reason: 'shutting down' } : {}),
      degraded: down.length > 0,
      departments: { total: reports.length, down },
      connectors: reports,
      ...(audit ? { audit: { writable: audit.writable, seq: audit.seq, ...(audit.reason ? { reason: audit.reason } : {}) } } : {}),
      state,
    });
  }

  const consoleRoutes = createConsoleRoutes({ gateway, peerOf });
  // The gateway's own proofs, unless the caller gives another source (tests).
  const proofPages = options.proofPages ?? gateway.proofs?.pages;
  const proofRoutes = proofPages ? createProofPageRoutes({ source: proofPages }) : undefined;

  /** `GET /status/<list>`: the Status List Token of a list of the hub's proofs, public, cacheable for its ttl. */
  async function statusList(res: http.ServerResponse, url: URL): Promise<void> {
    const list = /^\/status\/(0|[1-9][0-9]{0,8})$/.exec(url.pathname);
    const token = list && gateway.proofs ? await gateway.proofs.statusListToken(Number(list[1])) : undefined;
    if (!token) return notFound({ method: 'GET' } as http.IncomingMessage, res, url);
    res.writeHead(200, { 'content-type': 'application/statuslist+jwt', 'content-length': Buffer.byteLength(token), 'cache-control': `public, max-age=${gateway.proofs!.statusTtlSeconds}` });
    res.end(token);
  }
  function federationStatement(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const token = gateway.federationStatement();
    if (!token) return notFound(req, res, url);
    res.writeHead(200, { 'content-type': 'application/jwt', 'content-length': Buffer.byteLength(token), 'cache-control': 'public, max-age=300' });
    res.end(token);
  }
  const frontRoutes = createFrontRoutes({ gateway, ...(options.explorerExamples ? { examples: options.explorerExamples } : {}) });

  const notFound = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => sendJson(res, 404, { error: `No route for ${req.method ?? 'GET'} ${url.pathname.length > 200 ? `${url.pathname.slice(0, 200)}…` : url.pathname}` });

  /** The hub's SDL with every @share, printed once (`GET /federation/schema.graphql`). */
  let federationSdl: string | undefined;

  /** The operator routes themselves, once access is settled: /metrics, /readyz, /federation/schema.graphql, the webhooks' dead letters, the extra routes. */
  async function operatorRoute(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/metrics' && req.method === 'GET') {
      const { contentType, text } = await gateway.metrics.scrape();
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    } else if (url.pathname === '/readyz' && req.method === 'GET') {
      await readiness(res, true);
    } else if (url.pathname === '/federation/schema.graphql' && req.method === 'GET') {
      // What a peer hub's operator needs to put part of this graph behind theirs (docs/federation.md).
      // The schema does not change while the hub runs: printed at the first request, served as printed since.
      const sdl = (federationSdl ??= printSchemaWithDirectives(gateway.schema));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(sdl), 'cache-control': 'no-store' });
      res.end(sdl);
    } else if (url.pathname.startsWith('/webhooks/dead') && gateway.webhooks) {
      await deadLetters(req, res, url, gateway.webhooks);
    } else if (!options.extraRoutes?.(req, res)) {
      notFound(req, res, url);
    }
  }

  /**
   * The webhooks' dead letters (docs/webhooks.md): `GET /webhooks/dead[?webhook=]` lists them;
   * `POST /webhooks/dead/replay?event=<id>[&webhook=<id>]` puts one back at the head of its subject
   * with fresh attempts, `POST /webhooks/dead/skip?…` drops it (its subject's later events move on).
   */
  async function deadLetters(req: http.IncomingMessage, res: http.ServerResponse, url: URL, webhooks: NonNullable<Gateway['webhooks']>): Promise<void> {
    req.resume();
    const webhook = url.searchParams.get('webhook') ?? undefined;
    if (url.pathname === '/webhooks/dead' && req.method === 'GET') {
      const dead = await webhooks.store.listDead(webhook);
      sendJson(res, 200, { dead: dead.map((d) => ({ webhook: d.subscriberId, event: d.event.id, type: d.event.type, subject: d.event.subject, attempts: d.attempts, reason: d.reason, at: new Date(d.at).toISOString() })) }, { 'cache-control': 'no-store' });
      return;
    }
    const action = url.pathname === '/webhooks/dead/replay' ? 'replay' : url.pathname === '/webhooks/dead/skip' ? 'skip' : undefined;
    const event = url.searchParams.get('event');
    if (!action || req.method !== 'POST') return sendJson(res, 404, { error: 'GET /webhooks/dead, POST /webhooks/dead/replay?event=<id>, POST /webhooks/dead/skip?event=<id>' });
    if (!event) return sendJson(res, 400, { error: 'name the dead event: ?event=<id> (and ?webhook=<id> for one webhook only)' });
    try {
      const count = await webhooks.store[action](event, webhook);
      sendJson(res, 200, { [action === 'replay' ? 'replayed' : 'skipped']: count });
    } catch (error) {
      if ((error as { code?: string }).code === 'PUSH_NOT_DEAD') return sendJson(res, 404, { error: (error as Error).message });
      throw error;
    }
  }

  /**
   * An operator route reached on the main listener: answered only to a request an administrator
   * signed (the same token as for /graphql, over the exact body, its one-time id spent). Without
   * a token it does not exist (404), but for /readyz, whose bare answer the load balancer needs.
   */
  async function guardedOperatorRoute(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const authorization = headerValue(req.headers.authorization);
    if (authorization === undefined) {
      req.resume();
      if (url.pathname === '/readyz' && req.method === 'GET') return readiness(res, false);
      return notFound(req, res, url);
    }
    const body = await readBody(req, OPERATOR_BODY_LIMIT);
    if (!Buffer.isBuffer(body)) {
      res.setHeader('connection', 'close');
      sendJson(res, 413, { error: body.message });
      res.once('finish', () => req.destroy());
      return;
    }
    const access = await gateway.operatorAccess(authorization, body);
    if (access === 'invalid' || access === 'missing') return sendJson(res, 401, { error: 'The operator routes need a request signed by an administrator: the token does not verify.' }, { 'www-authenticate': 'DatarunRequest error="invalid_token"' });
    if (access === 'refused') return sendJson(res, 403, { error: 'The operator routes answer administrators only.' });
    // The body was read for its signature: the route reads it again.
    const again = Object.assign(Readable.from([body], { objectMode: false }), { url: req.url, method: req.method, headers: req.headers, socket: req.socket }) as unknown as http.IncomingMessage;
    return operatorRoute(again, res, url);
  }

  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    const url = requestUrl(req.url);
    let work: Promise<void> | undefined;
    if (url.pathname === '/graphql') {
      work = graphql(req, res);
    } else if (url.pathname === '/graphql/stream') {
      work = stream(req, res);
    } else if (url.pathname.startsWith('/status/') && req.method === 'GET') {
      work = statusList(res, url);
    } else if (proofRoutes && (work = proofRoutes.handle(req, res, url)) !== undefined) {
      // The proof pages: /p/<ref>, /verify (docs/proofs.md); nothing of them is logged.
    } else if ((work = consoleRoutes.handle(req, res, url)) !== undefined) {
      // The auditor console (docs/console.md).
    } else if ((work = frontRoutes.handle(req, res, url)) !== undefined) {
      // The front page: the explorer (open mode) or the landing page (signed), /departments, /docs/ (docs/explorer.md).
    } else if (url.pathname === '/healthz' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok' }));
    } else if (url.pathname === '/.well-known/jwks.json' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, 200, gateway.publicJwks(), { 'cache-control': 'public, max-age=300' }));
    } else if (url.pathname === FEDERATION_STATEMENT_PATH && req.method === 'GET') {
      // The JWKS signed by the hub's federation root key: what peer hubs verify against the root they pinned (docs/federation.md).
      work = Promise.resolve(federationStatement(req, res, url));
    } else if (url.pathname === '/.well-known/audit-head' && req.method === 'GET') {
      // Every instance's newest signed tree head, public like the JWKS: save one, and check the log against it later.
      work = gateway.auditHeads().then((heads) =>
        sendJson(res, 200, { heads: heads.map(({ head, jws }) => ({ instance: head.instance, chain: head.chain, size: head.size, root: head.root, time: head.time, jws })) }, { 'cache-control': 'no-store' }),
      );
    } else {
      // /metrics, /readyz, the extra routes and anything unknown: an administrator may reach them here.
      work = guardedOperatorRoute(req, res, url);
    }
    settle(work, res);
  });

  /** A route's failure: logged without details of the request, answered 500 if nothing was sent. */
  function settle(work: Promise<void>, res: http.ServerResponse): void {
    work.catch((error: unknown) => {
      // The pipeline answers every request itself; reaching here is a bug or a broken socket.
      logger.error({ err: { name: (error as Error)?.name } }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } }] }, { 'x-request-id': randomUUID() });
    });
  }

  // The operator listener: its routes without a token, nothing else but liveness.
  const operatorServer =
    options.operator
      ? http.createServer((req, res) => {
          const url = requestUrl(req.url);
          if (url.pathname === '/healthz' && req.method === 'GET') return sendJson(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok' });
          settle(operatorRoute(req, res, url), res);
        })
      : undefined;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Requests Node refuses before they reach a handler (headers too large, malformed): recorded through the pipeline, answered here.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const refusal: TransportRefusal = tooLarge
      ? { code: 'HEADERS_TOO_LARGE', message: `The request headers exceed ${MAX_HEADER_BYTES} bytes.` }
      : { code: 'BAD_REQUEST', message: 'The request is not valid HTTP.' };
    void gateway
      .execute({ refusal, peer: { ...(socket.remoteAddress ? { address: socket.remoteAddress } : {}) } })
      .then((answer) => {
        const text = JSON.stringify(answer.body);
        const status = errorInfo(answer.code ?? 'BAD_REQUEST').httpStatus;
        socket.end(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nx-request-id: ${answer.requestId}\r\nconnection: close\r\n\r\n${text}`,
        );
      })
      .catch(() => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, options.host ?? '127.0.0.1', () => resolve());
  });
  const urlOf = (listening: http.Server): string => {
    const address = listening.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  };
  if (operatorServer && options.operator) {
    const { host: operatorHost = '127.0.0.1', port: operatorPort = 0 } = options.operator;
    try {
      await new Promise<void>((resolve, reject) => {
        operatorServer.once('error', reject);
        operatorServer.listen(operatorPort, operatorHost, () => resolve());
      });
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    }
  }

  // Status list URIs and printable pages name the hub's URL: this one, unless proofs.baseUrl says otherwise.
  gateway.proofs?.setBaseUrl(urlOf(server));
  let closed: Promise<void> | undefined;
  return {
    url: urlOf(server),
    operatorUrl: operatorServer ? urlOf(operatorServer) : undefined,
    server,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + grace;
        while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const controller of inFlight) controller.abort();
        // Streams live as long as their subscribers read: they end now (the subscribers open them again elsewhere).
        for (const subscription of openStreams) subscription.close();
        server.closeAllConnections();
        await stopped;
        if (operatorServer) {
          const operatorStopped = new Promise<void>((resolve) => operatorServer.close(() => resolve()));
          operatorServer.closeAllConnections();
          await operatorStopped;
        }
      })();
      return closed;
    },
  };
}
