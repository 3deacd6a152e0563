import { Pool, errors as undiciErrors } from 'undici';
import { DeadlineExceededError, isDeadlineAbort } from './deadline';
import { ConnectorDefinitionError, ConnectorTimeoutError, ConnectorUnavailableError, HubError, UpstreamInvalidResponseError } from './errors';
import { traceDepartmentCall, tracingActive, type TracePropagation } from './tracing';

/** Settings of an HTTP department system. */
export interface HttpUpstreamOptions {
  /** The connector id, named in every error. */
  connector: string;
  /** Base URL of the department system, e.g. `http://127.0.0.1:8082`. */
  baseUrl: string;
  /**
   * Per-call timeout in milliseconds, connection included.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to the department system.
   * @default 16
   */
  connections?: number;
  /** Headers sent with every call (an API key, say). */
  headers?: Record<string, string>;
}

/** Defaults of `HttpUpstreamOptions`. */
export const DEFAULT_HTTP_UPSTREAM = { timeoutMs: 2000, connections: 16 } as const;

/** One call to a department system. */
export interface UpstreamRequest {
  method?: 'GET' | 'POST';
  /** Path and query, e.g. `/api/persons?ids=...`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** The request's signal: aborts the call when the client goes away or the request's deadline passes. */
  signal?: AbortSignal;
  /** Statuses that are answers, not failures (404 for "not found", 304 for an ETag hit). */
  acceptStatus?: readonly number[];
  /**
   * The operation's fixed name for the call's trace span (`insured.batch`), never the path, which
   * may carry identifiers. @default the method
   */
  operation?: string;
  /** How many identifiers the call carries, for its trace span. */
  batchSize?: number;
}

/** A department system's raw answer. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A keep-alive HTTP client for one department system that maps every failure to a hub error code. */
export interface HttpUpstream {
  request(call: UpstreamRequest): Promise<UpstreamResponse>;
  /** Sends a call and parses a JSON reply; a reply that is not JSON is `UPSTREAM_INVALID_RESPONSE`. */
  json<T = unknown>(call: UpstreamRequest): Promise<{ status: number; headers: UpstreamResponse['headers']; data: T }>;
  close(): Promise<void>;
}

/** Creates the HTTP client of one department system. */
export function createHttpUpstream(options: HttpUpstreamOptions): HttpUpstream {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_UPSTREAM.timeoutMs;
  const connector = options.connector;
  let origin: URL;
  try {
    origin = new URL(options.baseUrl);
  } catch {
    throw new ConnectorDefinitionError(`Connector "${connector}": baseUrl must be an absolute http(s) URL, but got: ${JSON.stringify(options.baseUrl)}`);
  }
  const basePath = origin.pathname.replace(/\/$/, '');
  const pool = new Pool(origin.origin, {
    connections: options.connections ?? DEFAULT_HTTP_UPSTREAM.connections,
    keepAliveTimeout: 30_000,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  /**
   * One call. Traced (docs/tracing.md), it runs in its department-call span and sends the W3C
   * `traceparent` and `tracestate` headers; untraced, nothing of that is built.
   */
  function request(call: UpstreamRequest): Promise<UpstreamResponse> {
    if (!tracingActive()) return send(call, undefined);
    return traceDepartmentCall({ connector, operation: call.operation ?? call.method ?? 'GET', protocol: 'http', ...(call.batchSize !== undefined ? { batchSize: call.batchSize } : {}) }, (propagation) => send(call, propagation));
  }

  async function send(call: UpstreamRequest, propagation: TracePropagation | undefined): Promise<UpstreamResponse> {
    const abort = callAbort(timeoutMs, call.signal);
    try {
      const res = await pool.request({
        method: call.method ?? 'GET',
        path: basePath + call.path,
        headers: propagation ? { ...options.headers, ...call.headers, ...traceHeaders(propagation) } : { ...options.headers, ...call.headers },
        body: call.body,
        signal: abort.signal,
      });
      const body = await res.body.text();
      const ok = (res.statusCode >= 200 && res.statusCode < 300) || (call.acceptStatus ?? []).includes(res.statusCode);
      if (!ok) throw new ConnectorUnavailableError(connector, `HTTP status ${res.statusCode}`);
      return { status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      throw mapHttpFailure(connector, timeoutMs, error, abort.timedOut(), call.signal);
    } finally {
      abort.release();
    }
  }

  return {
    request,
    async json<T>(call: UpstreamRequest) {
      const res = await request({ ...call, headers: { accept: 'application/json', ...call.headers } });
      if (res.status === 304 || res.body === '') return { status: res.status, headers: res.headers, data: undefined as T };
      try {
        return { status: res.status, headers: res.headers, data: JSON.parse(res.body) as T };
      } catch (error) {
        throw new UpstreamInvalidResponseError(connector, 'the body is not valid JSON', error);
      }
    },
    close: () => pool.close(),
  };
}

/** The abort signal of one call: its own timeout, and the request's signal when there is one. */
interface CallAbort {
  readonly signal: AbortSignal;
  /** True when the call's own timeout fired. */
  timedOut(): boolean;
  /** Clears the timer and the listener on the request's signal; called once the call is over. */
  release(): void;
}

/**
 * One controller, one timer and one listener per call, all released when the call ends: the
 * same aborts as `AbortSignal.any([requestSignal, AbortSignal.timeout(ms)])` without its cost
 * (a composite signal held through weak references and a timer left running after the call, which
 * under load were 2.5 % of the hub's CPU).
 */
function callAbort(timeoutMs: number, requestSignal: AbortSignal | undefined): CallAbort {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`The call did not complete within ${timeoutMs} ms.`, 'TimeoutError'));
  }, timeoutMs);
  let onAbort: (() => void) | undefined;
  if (requestSignal) {
    if (requestSignal.aborted) controller.abort(requestSignal.reason);
    else {
      onAbort = () => controller.abort(requestSignal.reason);
      requestSignal.addEventListener('abort', onAbort, { once: true });
    }
  }
  return {
    signal: controller.signal,
    timedOut: () => expired,
    release() {
      clearTimeout(timer);
      if (onAbort) requestSignal!.removeEventListener('abort', onAbort);
    },
  };
}

/** The W3C trace context headers of a call. */
function traceHeaders(propagation: TracePropagation): Record<string, string> {
  return propagation.tracestate ? { traceparent: propagation.traceparent, tracestate: propagation.tracestate } : { traceparent: propagation.traceparent };
}

/**
 * Maps a low-level failure of one call to the hub's error codes (never with the upstream body).
 * A call cut short by its request's deadline is CONNECTOR_TIMEOUT for this department, like a call
 * that hit the connector's own timeout.
 */
export function mapHttpFailure(connector: string, timeoutMs: number, error: unknown, timedOut: boolean, requestSignal?: AbortSignal): HubError {
  if (error instanceof HubError && !(error instanceof DeadlineExceededError)) return error;
  if (isDeadlineAbort(requestSignal)) return new ConnectorTimeoutError(connector, (requestSignal!.reason as DeadlineExceededError).deadlineMs);
  if (timedOut || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) {
    return new ConnectorTimeoutError(connector, timeoutMs);
  }
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ECONNREFUSED') return new ConnectorUnavailableError(connector, 'connection refused', error);
  if (code === 'ECONNRESET' || error instanceof undiciErrors.SocketError) return new ConnectorUnavailableError(connector, 'connection reset', error);
  if (error instanceof undiciErrors.RequestAbortedError || (error as Error | null)?.name === 'AbortError') {
    return new ConnectorUnavailableError(connector, 'call aborted', error);
  }
  return new ConnectorUnavailableError(connector, code ? `network error ${code}` : 'network error', error);
}

/**
 * Runs one call to a non-HTTP department system (a SQL query, say) under the connector timeout
 * and the request's signal, mapping a timeout or the request's deadline to `CONNECTOR_TIMEOUT`
 * and any other abort of the request to `CONNECTOR_UNAVAILABLE`. `run` receives a signal to
 * cancel its work.
 */
export async function withTimeout<T>(connector: string, timeoutMs: number, run: (signal: AbortSignal) => Promise<T>, requestSignal?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ConnectorTimeoutError(connector, timeoutMs));
    }, timeoutMs);
    if (requestSignal) {
      onAbort = () => {
        controller.abort();
        reject(isDeadlineAbort(requestSignal) ? new ConnectorTimeoutError(connector, (requestSignal.reason as DeadlineExceededError).deadlineMs) : new ConnectorUnavailableError(connector, 'call aborted'));
      };
      if (requestSignal.aborted) onAbort();
      else requestSignal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
    if (onAbort) requestSignal?.removeEventListener('abort', onAbort);
  }
}
