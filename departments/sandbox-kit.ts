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
