/**
 * A scripted HTTP upstream: a real node:http server on a loopback port whose answers the test
 * scripts per route, with fault switches and call counters. It stands in for a department's
 * REST, JSON or SOAP service in a connector's tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorDefinitionError } from '../sdk';
import { DelayedReplies, checkFault, type ConformanceUpstream, type FaultMode, type UpstreamFault } from './upstream';

/** A request as a route handler sees it. */
export interface ScriptedRequest {
  readonly method: string;
  /** The path without the query, e.g. `/api/v1/persons/batch`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as text ('' without one). */
  readonly body: string;
  /** The body parsed as JSON (a body that is not JSON fails the request with 400). */
  json<T = unknown>(): T;
}

/** A scripted answer: `json` is sent as `application/json`, `body` as it is. */
export interface ScriptedReply {
  /** @default 200 */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly json?: unknown;
}

/** Answers one route. */
export type ScriptedHandler = (request: ScriptedRequest) => ScriptedReply | Promise<ScriptedReply>;

/** A fault of the scripted upstream; `reply` replaces the default answer of `error` and `malformed`. */
export interface ScriptedFault extends UpstreamFault {
  readonly reply?: ScriptedReply;
}

/** Options of `startScriptedHttpUpstream`. */
export interface ScriptedHttpUpstreamOptions {
  /** Handlers by route, `"POST /api/persons/batch"`; a path ending in `*` matches by prefix. */
  readonly routes?: Readonly<Record<string, ScriptedHandler>>;
  /** What `malformed` answers by default: status 200 and JSON cut off in the middle. */
  readonly malformedReply?: ScriptedReply;
  /** What `error` answers by default: 503 and a JSON error. */
  readonly errorReply?: ScriptedReply;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

/** One request received, for assertions. */
export interface ScriptedCall {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** A running scripted upstream. */
export interface ScriptedHttpUpstream extends ConformanceUpstream {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Adds or replaces the handler of a route. */
  route(route: string, handler: ScriptedHandler): void;
  setFault(fault: ScriptedFault): void;
  /** Requests received since the last reset; with a route (`"POST /x"`), those of that route. */
  calls(route?: string): number;
  /** The requests received since the last reset, oldest first (the last 1000). */
  readonly requests: readonly ScriptedCall[];
  reset(): void;
  close(): Promise<void>;
}

const METHOD_ROUTE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/\S*)$/;
const SUPPORTED: readonly FaultMode[] = ['none', 'down', 'slow', 'error', 'malformed', 'reset'];
const BODY_LIMIT = 16 * 1024 * 1024;
const HELPER = 'scripted HTTP upstream';

const DEFAULT_MALFORMED: ScriptedReply = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"items":[{"id":"cut off in the mid' };
const DEFAULT_ERROR: ScriptedReply = { status: 503, headers: { 'content-type': 'application/json' }, body: '{"error":"service unavailable (scripted fault)"}' };

function checkRoute(route: string): { method: string; path: string; prefix: boolean } {
  const match = typeof route === 'string' ? METHOD_ROUTE.exec(route) : null;
  if (!match) throw new ConnectorDefinitionError(`${HELPER}: a route is "METHOD /path" (GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS), but got: ${JSON.stringify(route)}`);
  const path = match[2]!;
  return path.endsWith('*') ? { method: match[1]!, path: path.slice(0, -1), prefix: true } : { method: match[1]!, path, prefix: false };
}

/** Starts a scripted HTTP upstream on a loopback port. */
export async function startScriptedHttpUpstream(options: ScriptedHttpUpstreamOptions = {}): Promise<ScriptedHttpUpstream> {
  const routes = new Map<string, { method: string; path: string; prefix: boolean; handler: ScriptedHandler }>();
  const addRoute = (route: string, handler: ScriptedHandler) => {
    if (typeof handler !== 'function') throw new ConnectorDefinitionError(`${HELPER}: the handler of ${JSON.stringify(route)} must be a function`);
    routes.set(route, { ...checkRoute(route), handler });
  };
  for (const [route, handler] of Object.entries(options.routes ?? {})) addRoute(route, handler);

  let fault: Required<UpstreamFault> & { reply?: ScriptedReply } = { mode: 'none', delayMs: 0 };
  let log: ScriptedCall[] = [];
  const counts = new Map<string, number>();
  let total = 0;
  const delayed = new DelayedReplies();

  const find = (method: string, path: string) => {
    let best: { handler: ScriptedHandler; length: number } | undefined;
    for (const r of routes.values()) {
      if (r.method !== method) continue;
      if (!r.prefix && r.path === path) return r.handler;
      if (r.prefix && path.startsWith(r.path) && (!best || r.path.length > best.length)) best = { handler: r.handler, length: r.path.length };
    }
    return best?.handler;
  };

  const send = (res: http.ServerResponse, reply: ScriptedReply) => {
    if (res.destroyed) return;
    const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? '');
    const headers = { ...(reply.json !== undefined ? { 'content-type': 'application/json' } : {}), ...reply.headers };
    res.writeHead(reply.status ?? 200, headers).end(body);
  };

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const method = req.method ?? 'GET';
    const current = fault;
    if (current.mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (current.mode === 'error') return send(res, current.reply ?? options.errorReply ?? DEFAULT_ERROR);
    if (current.mode === 'malformed') return send(res, current.reply ?? options.malformedReply ?? DEFAULT_MALFORMED);
    const handler = find(method, url.pathname);
    if (!handler) return send(res, { status: 404, json: { error: `no scripted route for ${method} ${url.pathname}` } });
    let reply: ScriptedReply;
    try {
      reply = await handler({
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json<T>(): T {
          try {
            return JSON.parse(body) as T;
          } catch {
            throw new ConnectorDefinitionError(`the body of ${method} ${url.pathname} is not JSON`);
          }
        },
      });
    } catch (error) {
      const status = error instanceof ConnectorDefinitionError ? 400 : 500;
      return send(res, { status, json: { error: error instanceof Error ? error.message : 'the scripted handler failed' } });
    }
    if (current.mode === 'reset') {
      // The head and part of the body, then the connection is cut.
      const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? '');
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text) + 64), ...reply.headers });
      res.write(text.slice(0, Math.ceil(text.length / 2)), () => req.socket.destroy());
      return;
    }
    send(res, reply);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    total += 1;
    const key = `${req.method ?? 'GET'} ${url.pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) req.socket.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      log.push({ method: req.method ?? 'GET', path: url.pathname, body });
      if (log.length > 1000) log = log.slice(-1000);
      const go = () => void answer(req, res, body);
      if (fault.mode === 'slow') delayed.after(fault.delayMs, go);
      else go();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    faults: SUPPORTED,
    route: addRoute,
    setFault(next: ScriptedFault) {
      fault = { ...checkFault(next, SUPPORTED, HELPER), ...(next.reply ? { reply: next.reply } : {}) };
      if (fault.mode === 'down') server.closeAllConnections();
    },
    calls(route?: string) {
      if (route === undefined) return total;
      const { method, path } = checkRoute(route);
      return counts.get(`${method} ${path}`) ?? 0;
    },
    get requests() {
      return log;
    },
    reset() {
      fault = { mode: 'none', delayMs: 0 };
      total = 0;
      counts.clear();
      log = [];
    },
    async close() {
      delayed.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
