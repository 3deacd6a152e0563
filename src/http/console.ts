/**
 * The auditor console's routes under `/console` (docs/console.md): static files (plain HTML, CSS
 * and ES modules from ./console, under a strict Content-Security-Policy), the sign-in exchange,
 * sign-out, the console API and the export link. Nothing here decides who may read what: a
 * console API call goes through `gateway.execute` as the session's consumer, with the purpose and
 * case it states, so policy, limits and the access log apply as to a signed request.
 *
 * CSRF: the session cookie is SameSite=Strict and HttpOnly; the API takes only POSTs with
 * `content-type: application/json`, the custom header `x-datarun-console: 1`, an Origin (when
 * sent) of this host, and `Sec-Fetch-Site: same-origin` (when sent). The export link is a GET
 * with no effect but a download, refused when the browser says it comes from another site.
 */
import { isUtf8 } from 'node:buffer';
import type http from 'node:http';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { bodyEncodingProblem, consoleSessionView, errorInfo, HubErrorCode, UnauthenticatedError, type ConsoleExportFilter, type Gateway, type HubReply, type HubRequest, type TransportRefusal } from '../gateway';
import { bodyHeadersOf, headerValue, mediaTypeOf, pageSecurityHeaders, readBody, readStaticFolder, sendJson } from './io';

/** The Content-Security-Policy of every console response. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** The header a console API call must carry (a cross-site form cannot set it; a cross-site fetch would need a preflight the hub never grants). */
export const CONSOLE_CSRF_HEADER = 'x-datarun-console';
/** Cookie names: `__Host-` (Secure, Path=/) over https, a plain one (Path=/console) over http. */
export const CONSOLE_COOKIE = { secure: '__Host-datarun_console', plain: 'datarun_console' } as const;

const ASSET_DIR = path.join(__dirname, 'console');
const ASSET_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
const API_BODY_LIMIT = 64 * 1024;
const SECURITY_HEADERS = pageSecurityHeaders(CONSOLE_CSP);


function cookieOf(req: http.IncomingMessage): string | undefined {
  const header = headerValue(req.headers.cookie);
  if (!header) return undefined;
  const found = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) found.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return found.get(CONSOLE_COOKIE.secure) ?? found.get(CONSOLE_COOKIE.plain);
}

/** Over https: the socket is TLS, or the browser's Origin says https (a TLS-terminating proxy in front). */
function isHttps(req: http.IncomingMessage): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  return headerValue(req.headers.origin)?.startsWith('https://') ?? false;
}

function sessionCookie(req: http.IncomingMessage, id: string, maxAgeSec: number): string {
  return isHttps(req)
    ? `${CONSOLE_COOKIE.secure}=${id}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; Secure; SameSite=Strict`
    : `${CONSOLE_COOKIE.plain}=${id}; Path=/console; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Strict`;
}

function clearedCookies(): string[] {
  return [`${CONSOLE_COOKIE.secure}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict`, `${CONSOLE_COOKIE.plain}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict`];
}

/** Why a console POST is not accepted as same-origin JSON with the console's header; undefined when it is. */
function csrfProblem(req: http.IncomingMessage): string | undefined {
  if (mediaTypeOf(headerValue(req.headers['content-type'])) !== 'application/json') return 'a console call sends content-type: application/json';
  if (headerValue(req.headers[CONSOLE_CSRF_HEADER]) !== '1') return `a console call carries the header ${CONSOLE_CSRF_HEADER}: 1`;
  const site = headerValue(req.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin') return 'a console call comes from the console itself (same origin)';
  const origin = headerValue(req.headers.origin);
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== headerValue(req.headers.host)) return 'a console call comes from the console itself (same origin)';
  }
  return undefined;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const { 'set-cookie': cookies, ...rest } = headers;
  if (cookies) res.setHeader('set-cookie', cookies);
  sendJson(res, status, body, { ...SECURITY_HEADERS, 'cache-control': 'no-store', ...(rest as Record<string, string>) });
}

function refusalBody(code: string, message: string, reason?: string): unknown {
  return { errors: [{ message, extensions: { code, ...(reason ? { reason } : {}) } }] };
}

/** The refusal of a console body whose bytes are not UTF-8 (the pipeline's own words for a /graphql body). */
const NOT_UTF8 = 'The request body is not valid UTF-8.';

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** The console's routes; `handle` answers a request under /console and returns true, or returns false for any other path. */
export function createConsoleRoutes(options: { gateway: Gateway; peerOf: (req: http.IncomingMessage) => HubRequest['peer'] }): {
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> | undefined;
} {
  const { gateway } = options;
  // A fixed set of names, read once at start.
  const assets = readStaticFolder(ASSET_DIR, ASSET_TYPES);
  const sessions = gateway.consoleSessions;

  function reply(res: http.ServerResponse, answer: HubReply): void {
    const status = answer.code === null ? 200 : errorInfo(answer.code).httpStatus;
    send(res, status, answer.body, { 'x-request-id': answer.requestId, ...(answer.retryAfterSeconds !== undefined ? { 'retry-after': String(answer.retryAfterSeconds) } : {}) });
  }

  function asset(res: http.ServerResponse, name: string): void {
    const file = assets.get(name);
    if (!file) {
      send(res, 404, { error: 'No such console file.' });
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': file.bytes.length, 'cache-control': 'no-cache' });
    res.end(file.bytes);
  }

  /** Reads a console POST's JSON body, or answers the refusal itself and returns undefined. */
  async function readJsonPost(req: http.IncomingMessage, res: http.ServerResponse): Promise<Record<string, unknown> | undefined> {
    const problem = csrfProblem(req);
    if (problem) {
      req.resume();
      send(res, 400, refusalBody(HubErrorCode.BAD_REQUEST, `Refused: ${problem}.`));
      return undefined;
    }
    const declared = bodyHeadersOf(req.headers);
    const encoding = bodyEncodingProblem(declared.charset, declared.contentEncoding);
    if (encoding) {
      req.resume();
      send(res, 415, refusalBody(HubErrorCode.UNSUPPORTED_MEDIA_TYPE, encoding));
      return undefined;
    }
    const body = await readBody(req, API_BODY_LIMIT).catch(() => undefined);
    if (body === undefined || !Buffer.isBuffer(body)) {
      send(res, body === undefined ? 400 : 413, refusalBody(body === undefined ? HubErrorCode.BAD_REQUEST : HubErrorCode.PAYLOAD_TOO_LARGE, body === undefined ? 'The request body was cut off.' : (body as TransportRefusal).message), body === undefined ? {} : { connection: 'close' });
      return undefined;
    }
    const json = isUtf8(body) ? parseJson(body) : undefined;
    if (!json) send(res, 400, refusalBody(HubErrorCode.BAD_REQUEST, isUtf8(body) ? 'The body is not a JSON object.' : NOT_UTF8));
    return json;
  }

  async function signIn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = await readJsonPost(req, res);
    if (!json) return;
    try {
      const { id, session } = await sessions.signIn(str(json.token));
      const maxAgeSec = Math.max(1, Math.floor((session.absoluteExpiresAt - Date.now()) / 1000));
      send(res, 200, { session: consoleSessionView(session) }, { 'set-cookie': sessionCookie(req, id, maxAgeSec) });
    } catch (error) {
      if (error instanceof UnauthenticatedError) {
        send(res, 401, refusalBody(HubErrorCode.UNAUTHENTICATED, error.message, error.reason), { 'www-authenticate': 'DatarunConsole error="invalid_token"' });
        return;
      }
      // The replay guard cannot spend the sign-in id: fail closed.
      send(res, 503, refusalBody(HubErrorCode.REPLAY_GUARD_UNAVAILABLE, 'The sign-in cannot be checked now: retry later.'), { 'retry-after': '1' });
    }
  }

  async function current(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!(await readJsonPost(req, res))) return;
    const id = cookieOf(req);
    const session = id ? sessions.peek(id) : undefined;
    if (!session) send(res, 401, refusalBody(HubErrorCode.UNAUTHENTICATED, 'Not signed in.', 'NO_SESSION'));
    else send(res, 200, { session: consoleSessionView(session) });
  }

  async function signOut(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!(await readJsonPost(req, res))) return;
    const id = cookieOf(req);
    const ended = id ? sessions.signOut(id) : false;
    send(res, 200, { signedOut: ended }, { 'set-cookie': clearedCookies() });
  }

  async function api(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const base: HubRequest = { peer: options.peerOf(req) };
    const problem = csrfProblem(req);
    if (problem) {
      req.resume();
      // Recorded like every refusal before authentication.
      reply(res, await gateway.execute({ ...base, refusal: { code: HubErrorCode.BAD_REQUEST, message: `Refused: ${problem}.` } }));
      return;
    }
    // The body is read here and sent on re-serialized, so the declared charset and encoding are checked here too.
    const declared = bodyHeadersOf(req.headers);
    const encoding = bodyEncodingProblem(declared.charset, declared.contentEncoding);
    if (encoding) {
      req.resume();
      reply(res, await gateway.execute({ ...base, refusal: { code: HubErrorCode.UNSUPPORTED_MEDIA_TYPE, message: encoding } }));
      return;
    }
    const body = await readBody(req, API_BODY_LIMIT).catch(() => undefined);
    if (body === undefined) {
      await gateway.execute({ ...base, refusal: { code: HubErrorCode.BAD_REQUEST, message: 'The request body was cut off.' } });
      res.destroy();
      return;
    }
    if (!Buffer.isBuffer(body)) {
      res.setHeader('connection', 'close');
      reply(res, await gateway.execute({ ...base, refusal: body }));
      return;
    }
    // Decoding bytes that are not UTF-8 would turn them into U+FFFD: a changed query, never noticed.
    const json = isUtf8(body) ? parseJson(body) : undefined;
    if (!json) {
      reply(res, await gateway.execute({ ...base, refusal: { code: HubErrorCode.BAD_REQUEST, message: isUtf8(body) ? 'The body is not a JSON object.' : NOT_UTF8 } }));
      return;
    }
    // The GraphQL request goes on as its own body; the envelope's purpose, case and consent go beside it.
    const graphql = Buffer.from(JSON.stringify({ query: json.query, variables: json.variables ?? {}, ...(json.operationName !== undefined ? { operationName: json.operationName } : {}) }), 'utf8');
    const consent = str(json.consent);
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    req.socket.once('close', abort);
    try {
      const answer = await gateway.execute({
        ...base,
        body: graphql,
        contentType: 'application/json',
        session: { id: cookieOf(req) ?? '', purpose: str(json.purpose) ?? '', caseNumber: str(json.caseNumber) ?? '' },
        ...(consent ? { consent } : {}),
        signal: controller.signal,
      });
      reply(res, answer);
    } finally {
      req.socket.off('close', abort);
    }
  }

  async function exportLink(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const site = headerValue(req.headers['sec-fetch-site']);
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      send(res, 400, refusalBody(HubErrorCode.BAD_REQUEST, 'Refused: an export is downloaded from the console itself.'));
      return;
    }
    const q = url.searchParams;
    const format = q.get('format') === 'csv' ? 'csv' : 'jsonl';
    const filter: ConsoleExportFilter = {};
    const consumer = q.get('consumer');
    if (consumer) filter.consumer = consumer;
    const caseNumber = q.get('caseNumber');
    if (caseNumber) filter.caseNumber = caseNumber;
    const kind = q.get('subjectKind');
    const subjectId = q.get('subjectId');
    if (subjectId && (kind === 'PERSON' || kind === 'ENTERPRISE' || kind === 'PROPERTY')) filter.subject = { kind, id: subjectId };
    const from = q.get('from');
    if (from) filter.from = from;
    const to = q.get('to');
    if (to) filter.to = to;
    // Authorised and recorded by the pipeline: the auditor's own query over the same filter, purpose AUDIT.
    const query = 'query ConsoleExport($f: AccessLogFilter) { accessLog(filter: $f, first: 1) { pageInfo { hasNextPage } } }';
    const answer = await gateway.execute({
      peer: options.peerOf(req),
      body: Buffer.from(JSON.stringify({ query, variables: { f: filter }, operationName: 'ConsoleExport' }), 'utf8'),
      contentType: 'application/json',
      session: { id: cookieOf(req) ?? '', purpose: 'AUDIT', caseNumber: q.get('auditCase') ?? '' },
    });
    if (answer.code !== null || (answer.body.errors?.length ?? 0) > 0) {
      const status = answer.code === null ? 403 : errorInfo(answer.code).httpStatus;
      send(res, status, answer.body, { 'x-request-id': answer.requestId });
      return;
    }
    try {
      const exported = await gateway.exportAccessLog(filter, format);
      const name = `datarun-access-log-${exported.manifest.time.replace(/[:.]/g, '-')}.${format}.export.json`;
      send(res, 200, exported, { 'content-disposition': `attachment; filename="${name}"`, 'x-request-id': answer.requestId });
    } catch (error) {
      const code = (error as { code?: string }).code === HubErrorCode.AUDIT_UNAVAILABLE ? HubErrorCode.AUDIT_UNAVAILABLE : HubErrorCode.INTERNAL_SERVER_ERROR;
      send(res, errorInfo(code).httpStatus, refusalBody(code, code === HubErrorCode.AUDIT_UNAVAILABLE ? 'The access log is not available for export.' : 'The export failed.'));
    }
  }

  const POSTS: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>> = {
    '/console/session': signIn,
    '/console/session/current': current,
    '/console/logout': signOut,
    '/console/graphql': api,
  };

  return {
    handle(req, res, url) {
      const p = url.pathname;
      if (p !== '/console' && !p.startsWith('/console/')) return undefined;
      const post = POSTS[p];
      if (post) {
        if (req.method !== 'POST') {
          req.resume();
          send(res, 405, refusalBody(HubErrorCode.METHOD_NOT_ALLOWED, `Use POST for ${p}.`), { allow: 'POST' });
          return Promise.resolve();
        }
        return post(req, res);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        send(res, 405, refusalBody(HubErrorCode.METHOD_NOT_ALLOWED, `Use GET for ${p.slice(0, 200)}.`), { allow: 'GET' });
        return Promise.resolve();
      }
      if (p === '/console') {
        res.writeHead(308, { ...SECURITY_HEADERS, location: '/console/' });
        res.end();
        return Promise.resolve();
      }
      if (p === '/console/export') return exportLink(req, res, url);
      // The departments of this hub, for the search form's choice (their ids and names are public, like the JWKS).
      if (p === '/console/departments') {
        send(res, 200, { departments: gateway.connectors.map((c) => ({ id: c.id, title: c.title })) });
        return Promise.resolve();
      }
      asset(res, p === '/console/' ? 'index.html' : p.slice('/console/'.length));
      return Promise.resolve();
    },
  };
}
