/**
 * What every sandbox department system shares: injected latency and faults, and counters of
 * the calls it receives (for tests and benchmarks). Each sandbox decides what a "call" is for
 * its protocol (an HTTP request, a SOAP operation, a SQL statement) and what a malformed reply
 * looks like in it.
 */
import type http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import type { SeedData } from './seed/model';

/** How a sandbox misbehaves. */
export interface FaultSettings {
  /** Latency added to every call, in milliseconds. */
  latencyMs: number;
  /** `down`: connections are dropped; `slow`: `slowMs` more per call; `malformed`: replies are garbage in the protocol's own framing. */
  mode: 'none' | 'down' | 'slow' | 'malformed';
  /** Extra latency of the `slow` mode. */
  slowMs: number;
  /** Fraction (0..1) of calls answered with the protocol's error (HTTP 503, SOAP fault, SQL error). */
  errorRate: number;
}

/**
 * The operation name under which every sandbox counts a read of its change feed (a REST page, a
 * GetChanges call, a statement on the change table), so that counts of data calls can leave out
 * the hub's background polls.
 */
export const CHANGE_FEED_OPERATION = 'changes.list';

/** Defaults: a well-behaved sandbox. */
export const DEFAULT_FAULTS: FaultSettings = Object.freeze({ latencyMs: 0, mode: 'none', slowMs: 10_000, errorRate: 0 });

/** The knobs and counters of one running sandbox. */
export class SandboxControl {
  faults: FaultSettings = { ...DEFAULT_FAULTS };
  /** Calls received, by operation name (`persons.batch`, `QueryTaxpayers`, `sql`...). */
  readonly calls = new Map<string, number>();
  /**
   * The last W3C `traceparent` a call carried (docs/tracing.md): its HTTP header, or for the
   * real-estate database the statement's `/* traceparent='…' *\/` comment. Calls without one leave it.
   */
  lastTraceparent: string | undefined;
  /** The tax service: the last `traceparent` element of a SOAP envelope's Header. */
  lastEnvelopeTraceparent: string | undefined;
  private rng = 0x9e3779b9;

  /** Changes some fault settings, keeping the others. */
  setFaults(patch: Partial<FaultSettings>): void {
    const next = { ...this.faults, ...patch };
    if (!['none', 'down', 'slow', 'malformed'].includes(next.mode)) throw new TypeError(`fault mode must be none, down, slow or malformed, but got: ${String(next.mode)}`);
    if (!(next.errorRate >= 0 && next.errorRate <= 1)) throw new TypeError(`errorRate must be between 0 and 1, but got: ${next.errorRate}`);
    if (!(next.latencyMs >= 0) || !(next.slowMs >= 0)) throw new TypeError('latencyMs and slowMs must be non-negative numbers');
    this.faults = next;
  }

  /** Back to a well-behaved sandbox with zeroed counters. */
  reset(): void {
    this.faults = { ...DEFAULT_FAULTS };
    this.calls.clear();
    this.lastTraceparent = undefined;
    this.lastEnvelopeTraceparent = undefined;
  }

  /** Counts one call of an operation. */
  count(operation: string): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
  }

  /** Total calls received, all operations together. */
  totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /** Waits the configured latency (plus `slowMs` in slow mode). */
  async delay(): Promise<void> {
    const ms = this.faults.latencyMs + (this.faults.mode === 'slow' ? this.faults.slowMs : 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms).unref?.());
  }

  /** Whether this call should fail, per the error rate (deterministic sequence). */
  shouldFail(): boolean {
    if (this.faults.errorRate <= 0) return false;
    if (this.faults.errorRate >= 1) return true;
    this.rng = (Math.imul(this.rng ^ (this.rng >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return this.rng / 2 ** 32 < this.faults.errorRate;
  }
}

/** A running sandbox department system. */
export interface Sandbox {
  readonly name: string;
  /** Where its connector points (`http://127.0.0.1:port/...` or `postgres://...`). */
  readonly url: string;
  readonly control: SandboxControl;
  /**
   * The sandbox's own change routes (`POST /__sandbox/<route>`, see `serveChangeRoutes`), for
   * hosts that serve them on another listener: the hub's operator listener offers them as
   * `/__sandbox/<name>/<route>` (`sandboxSetControl`). Returns false for a path it does not serve.
   */
  readonly routes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  close(): Promise<void>;
}

/** Listens on a loopback port (0 = any free port) and returns the address. */
export async function listen(server: http.Server | Server, port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/**
 * Wraps an HTTP handler with the fault settings: `down` destroys the socket, latency and `slow`
 * delay the reply, the error rate answers 503. `malformed` is left to the handler, which knows
 * what garbage looks like in its format.
 */
export function withFaults(control: SandboxControl, handler: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const traceparent = req.headers.traceparent;
    if (typeof traceparent === 'string') control.lastTraceparent = traceparent;
    if (control.faults.mode === 'down') {
      req.socket.destroy();
      return;
    }
    void control.delay().then(() => {
      if (control.shouldFail()) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"service unavailable (injected)"}');
        return;
      }
      handler(req, res);
    });
  };
}

/** Closes an HTTP server, ending its keep-alive connections. */
export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Serves the sandbox's control routes when the path starts with `/__sandbox/`, untouched by faults:
 * `GET /__sandbox/calls` (counters), `POST /__sandbox/faults` (a JSON patch of FaultSettings),
 * `POST /__sandbox/reset`. Returns false for any other path.
 */
export function serveControl(control: SandboxControl, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (!req.url?.startsWith('/__sandbox/')) return false;
  const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (req.method === 'GET' && req.url === '/__sandbox/calls') {
    reply(200, { total: control.totalCalls(), byOperation: Object.fromEntries(control.calls) });
  } else if (req.method === 'POST' && req.url === '/__sandbox/reset') {
    control.reset();
    reply(200, { ok: true });
  } else if (req.method === 'POST' && req.url === '/__sandbox/faults') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      try {
        control.setFaults(JSON.parse(body) as Partial<FaultSettings>);
        reply(200, control.faults);
      } catch (error) {
        reply(400, { error: error instanceof Error ? error.message : 'bad fault settings' });
      }
    });
  } else {
    reply(404, { error: 'unknown control route' });
  }
  return true;
}

/**
 * What each sandbox folder of `departments/` exports (as `sandboxModule`) to register itself: the
 * id of the connector it stands in for, how to start it over a seed, and the connector settings
 * that point at a running one.
 */
export interface SandboxModule {
  /** The id of the connector this sandbox serves (`connectors/<id>`). */
  readonly id: string;
  /** Starts the sandbox over the seed on a loopback port (0 = any free port). */
  start(data: SeedData, options?: { port?: number; host?: string; databaseUrl?: string }): Promise<Sandbox>;
  /** The connector's settings (`connectors.<id>.*`) pointing at this running sandbox. */
  settings(sandbox: Sandbox): Record<string, unknown>;
}

/**
 * A change route of a sandbox (`POST /__sandbox/<route>`): it records one change at the department
 * (a new registration, a seizure, an arrear) from the JSON object of the request, and returns what
 * it recorded (answered with 201). It throws `SandboxRouteError` for bad input.
 */
export type SandboxChangeRoute = (body: Readonly<Record<string, unknown>>) => unknown;

/** A change route's refusal: 400 with a message naming the bad field, 404 for an unknown subject, 409 for a change the subject's state does not allow. */
export class SandboxRouteError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

/** Largest body a change route reads. */
const MAX_ROUTE_BODY_BYTES = 64 * 1024;

/**
 * Serves `POST /__sandbox/<route>` for the routes given (untouched by faults, like the kit's
 * control routes): the body must be a JSON object; the route's result is answered with 201, a
 * `SandboxRouteError` with its status and `{error}`. Returns false for any other path.
 */
export function serveChangeRoutes(routes: Readonly<Record<string, SandboxChangeRoute>>, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = req.url ?? '';
  if (!url.startsWith('/__sandbox/')) return false;
  const name = url.slice('/__sandbox/'.length).split('?')[0]!;
  if (!Object.hasOwn(routes, name)) return false;
  const reply = (status: number, body: unknown) => {
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  };
  if (req.method !== 'POST') {
    req.resume();
    reply(405, { error: `use POST for /__sandbox/${name}` });
    return true;
  }
  let body = '';
  let size = 0;
  let tooLarge = false;
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    size += Buffer.byteLength(chunk);
    if (size > MAX_ROUTE_BODY_BYTES) tooLarge = true;
    else body += chunk;
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (tooLarge) return reply(413, { error: `the body is larger than ${MAX_ROUTE_BODY_BYTES} bytes` });
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return reply(400, { error: 'the body must be a JSON object' });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return reply(400, { error: 'the body must be a JSON object' });
    Promise.resolve()
      .then(() => routes[name]!(parsed as Record<string, unknown>))
      .then(
        (result) => reply(201, result),
        (error: unknown) => {
          if (error instanceof SandboxRouteError) reply(error.status, { error: error.message });
          else reply(500, { error: `the change could not be recorded: ${error instanceof Error ? error.message : 'internal error'}` });
        },
      );
  });
  return true;
}

/** Readers of a change route's fields: each throws a `SandboxRouteError` naming the field. */
export const routeFields = Object.freeze({
  /** A non-empty text of at most `max` characters; `problem` adds a format check (an identifier's). */
  text(body: Readonly<Record<string, unknown>>, name: string, options: { max?: number; problem?: (value: string) => string | undefined } = {}): string {
    const value = body[name];
    if (typeof value !== 'string' || value.trim() === '') throw new SandboxRouteError(`"${name}" is required: a non-empty string`);
    if (value.length > (options.max ?? 200)) throw new SandboxRouteError(`"${name}" must be at most ${options.max ?? 200} characters`);
    const problem = options.problem?.(value);
    if (problem !== undefined) throw new SandboxRouteError(`"${name}" ${problem}`);
    return value;
  },
  /** Like `text`, or undefined when absent. */
  optionalText(body: Readonly<Record<string, unknown>>, name: string, options: { max?: number; problem?: (value: string) => string | undefined } = {}): string | undefined {
    return body[name] === undefined || body[name] === null ? undefined : routeFields.text(body, name, options);
  },
  /** An amount of money in yuan: positive, at most two decimals, below 10^12. */
  amount(body: Readonly<Record<string, unknown>>, name: string): number {
    const value = body[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1e12 || Math.round(value * 100) / 100 !== value) {
      throw new SandboxRouteError(`"${name}" must be a positive amount in yuan with at most two decimals`);
    }
    return value;
  },
  /** A calendar date `YYYY-MM-DD`, or `fallback` when absent. */
  date(body: Readonly<Record<string, unknown>>, name: string, fallback?: string): string {
    const value = body[name];
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    const time = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
    if (typeof value !== 'string' || !Number.isFinite(time) || new Date(time).toISOString().slice(0, 10) !== value) {
      throw new SandboxRouteError(`"${name}" must be a calendar date YYYY-MM-DD`);
    }
    return value;
  },
  /** One of `values`. */
  oneOf<T extends string>(body: Readonly<Record<string, unknown>>, name: string, values: readonly T[]): T {
    const value = body[name];
    if (typeof value !== 'string' || !values.includes(value as T)) throw new SandboxRouteError(`"${name}" must be one of ${values.join(', ')}`);
    return value as T;
  },
});

/** Today's date in China Standard Time (`YYYY-MM-DD`), the departments' calendar. */
export function todayInChina(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** Now in China Standard Time with its offset (`2026-05-01T10:00:00+08:00`), as the departments record changes. */
export function nowInChina(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}
