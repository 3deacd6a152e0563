/**
 * The HTTP adapter of the hub: it reads the request (method, media type, body bytes within the
 * limit, the headers the pipeline needs, the peer address), hands it to `gateway.execute`, and
 * maps the reply's error code to a status through the error registry. It decides nothing: a
 * transport refusal (405, 413, 431, the hub stopping) goes through the pipeline too, so it is
 * recorded like any other outcome.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { CONSENT_HEADER, errorInfo, HubErrorCode, type Gateway, type HubReply, type HubRequest, type TransportRefusal } from '../gateway';
import { createConsoleRoutes } from './console';
import { createFrontRoutes, type ExplorerExample } from './front';
import { acceptsJson, headerValue, mediaTypeOf, readBody, sendJson } from './io';

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

/** 64 KiB of headers: a living-allowance check carries one consent token per family member. */
const MAX_HEADER_BYTES = 64 * 1024;
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

/** Starts the hub's HTTP server: `POST /graphql`, `GET /healthz`, `GET /readyz`, `GET /.well-known/jwks.json`, `GET /.well-known/audit-head`, the auditor console under `/console`, the front page `/` (the explorer in the open mode, the landing page when signed), `/departments`, `/docs/`. */
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
    else if (req.method !== 'POST') refusal = { code: 'METHOD_NOT_ALLOWED', message: 'Use POST for /graphql.' };
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
      const contentType = mediaTypeOf(headerValue(req.headers['content-type']));
      const authorization = headerValue(req.headers.authorization);
      const consent = headerValue(req.headers[CONSENT_HEADER]);
      const answer = await gateway.execute({
        ...base,
        body,
        ...(contentType !== undefined ? { contentType } : {}),
        ...(authorization !== undefined ? { authorization } : {}),
        ...(consent !== undefined ? { consent } : {}),
        signal: controller.signal,
      });
      reply(res, answer, correlationId);
    } finally {
      req.socket.off('close', abortOnClose);
      inFlight.delete(controller);
    }
  }

  /**
   * Readiness is about this instance, so that a load balancer takes it out of rotation only for
   * what another instance would do better: its access log not writable, its shared state not
   * reachable, or shutting down. A department that is down is down for every instance alike: it
   * is reported (`departments`, `degraded`) but does not make the instance unready.
   */
  async function readiness(res: http.ServerResponse): Promise<void> {
    const reports = await Promise.all(connectors.map((c) => c.health()));
    const audit = gateway.audit ? gateway.audit.health() : undefined;
    const state = gateway.state.health();
    const ready = !closing && (audit === undefined || audit.writable) && state.ok;
    const down = reports.filter((r) => !r.ok).map((r) => r.connector);
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
  const frontRoutes = createFrontRoutes({ gateway, ...(options.explorerExamples ? { examples: options.explorerExamples } : {}) });

  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    let work: Promise<void> | undefined;
    if (url.pathname === '/graphql') {
      work = graphql(req, res);
    } else if ((work = consoleRoutes.handle(req, res, url)) !== undefined) {
      // The auditor console (docs/console.md).
    } else if ((work = frontRoutes.handle(req, res, url)) !== undefined) {
      // The front page: the explorer (open mode) or the landing page (signed), /departments, /docs/ (docs/explorer.md).
    } else if (url.pathname === '/healthz' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok' }));
    } else if (url.pathname === '/.well-known/jwks.json' && req.method === 'GET') {
      work = Promise.resolve(sendJson(res, 200, gateway.keyStore.publicJwks(), { 'cache-control': 'public, max-age=300' }));
    } else if (url.pathname === '/.well-known/audit-head' && req.method === 'GET') {
      // Every instance's newest signed tree head, public like the JWKS: save one, and check the log against it later.
      work = gateway.auditHeads().then((heads) =>
        sendJson(res, 200, { heads: heads.map(({ head, jws }) => ({ instance: head.instance, chain: head.chain, size: head.size, root: head.root, time: head.time, jws })) }, { 'cache-control': 'no-store' }),
      );
    } else if (url.pathname === '/readyz' && req.method === 'GET') {
      work = readiness(res);
    } else if (options.extraRoutes?.(req, res)) {
      return;
    } else {
      work = Promise.resolve(sendJson(res, 404, { error: `No route for ${req.method ?? 'GET'} ${url.pathname.slice(0, 200)}` }));
    }
    work.catch((error: unknown) => {
      // The pipeline answers every request itself; reaching here is a bug or a broken socket.
      logger.error({ err: { name: (error as Error)?.name } }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: HubErrorCode.INTERNAL_SERVER_ERROR } }] }, { 'x-request-id': randomUUID() });
    });
  });
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
      })();
      return closed;
    },
  };
}
