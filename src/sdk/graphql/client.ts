/**
 * GraphQL over HTTP to a department system, on the SDK's upstream helper: one POST per call,
 * HTTP failures and timeouts mapped by the helper (CONNECTOR_UNAVAILABLE, CONNECTOR_TIMEOUT),
 * a body that is not a GraphQL response UPSTREAM_INVALID_RESPONSE. Remote error messages may
 * carry personal data: only their paths and `extensions.code` are kept, never their text.
 */
import { ConnectorUnavailableError, UpstreamInvalidResponseError } from '../errors';
import { tracingActive } from '../tracing';
import { createHttpUpstream, type HttpUpstream } from '../upstream';

/** One GraphQL error of a reply, without its message. */
export interface RemoteError {
  /** The response path it names, if any. */
  readonly path?: readonly (string | number)[];
  /** `extensions.code`, when it is a plain code (`INTERNAL_SERVER_ERROR`), else undefined. */
  readonly code?: string;
}

/** A GraphQL reply: its data (an object or null) and its errors. */
export interface GraphqlReply {
  readonly data: Record<string, unknown> | null;
  readonly errors: readonly RemoteError[];
}

/** Where and how to call the service. */
export interface GraphqlClientOptions {
  readonly connector: string;
  readonly url: string;
  readonly timeoutMs: number;
  readonly connections?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A GraphQL client of one department system. */
export interface GraphqlClient {
  /**
   * One POST of `query` with `variables`; resolves with data and errors, rejects with a hub error.
   * Traced (docs/tracing.md), the call's span is named by `trace.operation` (default: the query's
   * operation name) and carries `trace.batchSize`; the `traceparent` header goes with the POST.
   */
  call(query: string, variables: Record<string, unknown>, signal?: AbortSignal, trace?: { readonly operation?: string; readonly batchSize?: number }): Promise<GraphqlReply>;
  close(): Promise<void>;
}

const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** The operation name of a query the connector wrote (`query DatarunRecords(…`): a fixed name, no values. */
const OPERATION_NAME = /^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]{0,63})/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses a reply body into data and message-free errors; anything else is UPSTREAM_INVALID_RESPONSE. */
export function parseGraphqlReply(connector: string, body: string): GraphqlReply {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UpstreamInvalidResponseError(connector, 'the body is not valid JSON');
  }
  if (!isObject(json) || (!('data' in json) && !('errors' in json))) throw new UpstreamInvalidResponseError(connector, 'the body is not a GraphQL response (no data, no errors)');
  const data = json.data ?? null;
  if (data !== null && !isObject(data)) throw new UpstreamInvalidResponseError(connector, 'the data of the GraphQL response is not an object');
  const rawErrors = json.errors ?? [];
  if (!Array.isArray(rawErrors)) throw new UpstreamInvalidResponseError(connector, 'the errors of the GraphQL response are not a list');
  const errors = rawErrors.map((raw): RemoteError => {
    if (!isObject(raw)) throw new UpstreamInvalidResponseError(connector, 'an error of the GraphQL response is not an object');
    const path = Array.isArray(raw.path) && raw.path.every((p) => typeof p === 'string' || (typeof p === 'number' && Number.isInteger(p))) ? (raw.path as (string | number)[]) : undefined;
    const code = isObject(raw.extensions) && typeof raw.extensions.code === 'string' && CODE.test(raw.extensions.code) ? raw.extensions.code : undefined;
    return { ...(path ? { path } : {}), ...(code ? { code } : {}) };
  });
  if (data === null && errors.length === 0) throw new UpstreamInvalidResponseError(connector, 'the GraphQL response has neither data nor errors');
  return { data: data as Record<string, unknown> | null, errors };
}

/** The error of a whole call that the department answered with GraphQL errors (their codes, never their messages). */
export function remoteErrorsFailure(connector: string, errors: readonly RemoteError[]): ConnectorUnavailableError {
  const codes = [...new Set(errors.map((e) => e.code).filter((c): c is string => c !== undefined))].slice(0, 5);
  const count = errors.length === 1 ? 'a GraphQL error' : `${errors.length} GraphQL errors`;
  return new ConnectorUnavailableError(connector, `the department answered with ${count}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}`);
}

/** Creates the client; `url` is the endpoint itself (its path and query are kept). */
export function createGraphqlClient(options: GraphqlClientOptions): GraphqlClient {
  const endpoint = new URL(options.url);
  const upstream: HttpUpstream = createHttpUpstream({
    connector: options.connector,
    baseUrl: endpoint.origin + endpoint.pathname,
    timeoutMs: options.timeoutMs,
    ...(options.connections !== undefined ? { connections: options.connections } : {}),
    ...(options.headers ? { headers: { ...options.headers } } : {}),
  });
  // The helper appends a call's path to the URL's path (without a trailing slash).
  const path = (endpoint.pathname === '/' ? '/' : endpoint.pathname.endsWith('/') ? '/' : '') + endpoint.search;
  return {
    async call(query, variables, signal, trace) {
      const res = await upstream.request({
        method: 'POST',
        path,
        body: JSON.stringify({ query, variables }),
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        ...(signal ? { signal } : {}),
        ...(tracingActive() ? { operation: trace?.operation ?? OPERATION_NAME.exec(query)?.[1] ?? 'query', ...(trace?.batchSize !== undefined ? { batchSize: trace.batchSize } : {}) } : {}),
      });
      return parseGraphqlReply(options.connector, res.body);
    },
    close: () => upstream.close(),
  };
}
