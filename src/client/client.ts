import { readFileSync } from 'node:fs';
import { createClient as createSseClient, NetworkError } from 'graphql-sse';
import {
  DEFAULT_HUB_ID,
  createRequestSigner,
  hashJson,
  hashText,
  importJwks,
  loadJwks,
  verifyReceipt,
  verifySeal,
  type Jwks,
  type PrivateJwk,
  type ReceiptVerification,
  type RequestContext,
  type SealVerification,
  type TrustedKeys,
  type VerifyReceiptOptions,
} from '../seal';
import { DataRunClientError } from './errors';

/** Response header the client also reads a receipt from, when the hub does not put it in `extensions.receipt`. */
export const RECEIPT_HEADER = 'x-datarun-receipt';

/** Options of `createDataRunClient`. */
export interface DataRunClientOptions {
  /** The hub's base URL, e.g. `https://hub.example.gov.cn`. */
  readonly hubUrl: string;
  /** This consumer's id in the hub's trust list, e.g. `one-window-hall`. */
  readonly consumerId: string;
  /** The consumer's private JWK (with `kid` and `alg`); or give `keyFile`. */
  readonly privateJwk?: PrivateJwk;
  /** Path of a private JWK file (as written under keys/private/). */
  readonly keyFile?: string;
  /** The hub's id, the `aud` of every request token. @default DEFAULT_HUB_ID */
  readonly audience?: string;
  /** @default '/graphql' */
  readonly graphqlPath?: string;
  /** Where subscriptions are opened. @default '/graphql/stream' */
  readonly streamPath?: string;
  /** Where the hub publishes its keys. @default `${hubUrl}/.well-known/jwks.json` */
  readonly jwksUrl?: string;
  /** How long a fetched JWKS is used before it is fetched again, in ms. @default 300_000 */
  readonly jwksMaxAgeMs?: number;
  /** Lifetime of each request token, in seconds (at most 300). @default 60 */
  readonly tokenLifetimeSec?: number;
  /** Per-call timeout, in ms. @default 30_000 */
  readonly timeoutMs?: number;
  /** The fetch to use (tests, proxies). @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Why a query is made (事由, 办件编号, 经办人; a peer hub's `onBehalfOf`, signed as the `obo` claim), plus GraphQL extras. */
export interface QueryOptions extends RequestContext {
  readonly operationName?: string;
  /** Consent tokens 授权 signed by a consent issuer (the citizen-identity platform in the demo), for purposes that require the subject's consent. */
  readonly consents?: readonly string[];
  readonly signal?: AbortSignal;
}

/** A GraphQL error as the hub formats it. */
export interface DataRunGraphQLError {
  readonly message: string;
  readonly path?: ReadonlyArray<string | number>;
  readonly extensions?: Readonly<Record<string, unknown>> & { readonly code?: string; readonly reason?: string };
}

/** The hub's reply to one query, with the receipt and the request it answers. */
export interface DataRunResponse<TData> {
  /** HTTP status (401 when the request token was refused). */
  readonly status: number;
  readonly data?: TData | null;
  readonly errors?: readonly DataRunGraphQLError[];
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** The hub's signed receipt for this reply, when it sent one. */
  readonly receipt: string | undefined;
  /** What was sent, so the receipt can be checked against it. */
  readonly request: { readonly query: string; readonly variables: Readonly<Record<string, unknown>> };
}

/** A department system's client of the hub: signs every call, verifies seals and receipts against the hub's JWKS. */
export interface DataRunClient {
  /** Signs and POSTs a GraphQL query; GraphQL and authentication errors come back in `errors`, not as exceptions. */
  query<TData = Record<string, unknown>>(query: string, variables: Readonly<Record<string, unknown>> | undefined, options: QueryOptions): Promise<DataRunResponse<TData>>;
  /**
   * Opens a subscription (GraphQL over Server-Sent Events at `/graphql/stream`), signed like a
   * query: each delivery comes as a response with its own receipt; the iteration ends when the
   * hub ends the stream (its last response names why) or `options.signal` aborts. A refusal at
   * the opening (401, 403, …) is thrown as a DataRunClientError naming the hub's code.
   */
  subscribe<TData = Record<string, unknown>>(query: string, variables: Readonly<Record<string, unknown>> | undefined, options: QueryOptions): AsyncIterableIterator<DataRunResponse<TData>>;
  /** Verifies a record seal (SD-JWT) against the hub's published keys. */
  verifySeal(token: string, options?: { now?: Date | number }): Promise<SealVerification>;
  /** Verifies a receipt against the hub's published keys. */
  verifyReceipt(token: string, options?: Pick<VerifyReceiptOptions, 'expected' | 'now'>): Promise<ReceiptVerification>;
  /** Verifies a response's receipt and that it attests exactly this query, these variables and this data. */
  verifyReply(response: DataRunResponse<unknown>): Promise<ReceiptVerification>;
  /** The hub's JWKS (fetched once, cached for `jwksMaxAgeMs`). */
  jwks(): Promise<Jwks>;
}

const MIN_REFRESH_MS = 30_000;

/** Creates the client a department system uses to query the hub. */
export function createDataRunClient(options: DataRunClientOptions): DataRunClient {
  const privateJwk = options.privateJwk ?? (options.keyFile ? (JSON.parse(readFileSync(options.keyFile, 'utf8')) as PrivateJwk) : undefined);
  if (!privateJwk) throw new DataRunClientError('ERR_CLIENT_OPTIONS_INVALID', 'The client needs privateJwk or keyFile.');
  const signer = createRequestSigner({
    consumerId: options.consumerId,
    privateJwk,
    audience: options.audience ?? DEFAULT_HUB_ID,
    ...(options.tokenLifetimeSec !== undefined ? { lifetimeSec: options.tokenLifetimeSec } : {}),
  });
  const hubUrl = options.hubUrl.replace(/\/+$/, '');
  const endpoint = `${hubUrl}${options.graphqlPath ?? '/graphql'}`;
  const jwksUrl = options.jwksUrl ?? `${hubUrl}/.well-known/jwks.json`;
  const maxAgeMs = options.jwksMaxAgeMs ?? 300_000;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;

  let cached: { jwks: Jwks; keys: TrustedKeys; at: number } | undefined;
  let inFlight: Promise<NonNullable<typeof cached>> | undefined;

  function fetchKeys(): Promise<NonNullable<typeof cached>> {
    inFlight ??= loadJwks(jwksUrl, { fetch: doFetch })
      .then((jwks) => (cached = { jwks, keys: importJwks(jwks), at: Date.now() }))
      .finally(() => (inFlight = undefined));
    return inFlight;
  }

  async function keys(): Promise<NonNullable<typeof cached>> {
    return cached && Date.now() - cached.at < maxAgeMs ? cached : fetchKeys();
  }

  /** Verifies with the cached JWKS; on an unknown kid (a key rotated in since), fetches the JWKS again once. */
  async function withKeys<T extends { valid: boolean; reason?: string }>(verify: (keys: TrustedKeys) => T): Promise<T> {
    const current = await keys();
    const result = verify(current.keys);
    if (result.valid || result.reason !== 'UNKNOWN_KEY' || Date.now() - current.at < MIN_REFRESH_MS) return result;
    return verify((await fetchKeys()).keys);
  }

  const client: DataRunClient = {
    async query<TData>(query: string, variables: Readonly<Record<string, unknown>> | undefined, queryOptions: QueryOptions) {
      const vars = variables ?? {};
      const body = Buffer.from(JSON.stringify({ query, variables: vars, ...(queryOptions.operationName ? { operationName: queryOptions.operationName } : {}) }), 'utf8');
      const { purpose, caseNumber, operator, onBehalfOf } = queryOptions;
      const signal = queryOptions.signal ? AbortSignal.any([queryOptions.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      // Signed before the request goes out: what cannot be signed (an onBehalfOf that is not well formed) throws its own error, not "unreachable".
      const authorization = signer.authorization(body, { purpose, caseNumber, operator, ...(onBehalfOf ? { onBehalfOf } : {}) });
      let response: Response;
      try {
        response = await doFetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization,
            ...(queryOptions.consents?.length ? { 'x-datarun-consent': queryOptions.consents.join(',') } : {}),
          },
          body,
          signal,
        });
      } catch (error) {
        throw new DataRunClientError('ERR_HUB_UNREACHABLE', `cannot reach the hub at ${endpoint}`, { cause: error });
      }
      let json: { data?: TData | null; errors?: DataRunGraphQLError[]; extensions?: Record<string, unknown> };
      try {
        json = (await response.json()) as typeof json;
      } catch (error) {
        throw new DataRunClientError('ERR_HUB_RESPONSE_INVALID', `the hub answered HTTP ${response.status} without a GraphQL response`, { cause: error });
      }
      if (json === null || typeof json !== 'object' || (!('data' in json) && !Array.isArray(json.errors))) {
        throw new DataRunClientError('ERR_HUB_RESPONSE_INVALID', `the hub answered HTTP ${response.status} without a GraphQL response`);
      }
      const fromExtensions = json.extensions?.receipt;
      const receipt = typeof fromExtensions === 'string' ? fromExtensions : (response.headers.get(RECEIPT_HEADER) ?? undefined);
      return { status: response.status, ...json, receipt, request: { query, variables: vars } } as DataRunResponse<TData>;
    },
    subscribe<TData>(query: string, variables: Readonly<Record<string, unknown>> | undefined, queryOptions: QueryOptions) {
      const vars = variables ?? {};
      const { purpose, caseNumber, operator, onBehalfOf } = queryOptions;
      const streamUrl = `${hubUrl}${options.streamPath ?? '/graphql/stream'}`;
      // graphql-sse frames the stream; the body it sends is signed as it goes out, byte for byte.
      // What cannot be signed is kept and thrown as itself: graphql-sse would pass it on as a network failure.
      let signingError: unknown;
      const sse = createSseClient({
        url: streamUrl,
        retryAttempts: 0,
        fetchFn: (url: string, init: RequestInit) => {
          let authorization: string;
          try {
            authorization = signer.authorization(Buffer.from(String(init.body ?? ''), 'utf8'), { purpose, caseNumber, operator, ...(onBehalfOf ? { onBehalfOf } : {}) });
          } catch (error) {
            signingError = error;
            throw error;
          }
          return doFetch(url, {
            ...init,
            ...(queryOptions.signal ? { signal: init.signal ? AbortSignal.any([init.signal, queryOptions.signal]) : queryOptions.signal } : {}),
            headers: {
              ...(init.headers as Record<string, string>),
              authorization,
              ...(queryOptions.consents?.length ? { 'x-datarun-consent': queryOptions.consents.join(',') } : {}),
            },
          });
        },
      });
      const results = sse.iterate<TData>({ query, variables: { ...vars }, ...(queryOptions.operationName ? { operationName: queryOptions.operationName } : {}) });
      return (async function* () {
        try {
          for await (const result of results) {
            const fromExtensions = (result.extensions as Record<string, unknown> | undefined)?.receipt;
            yield { status: 200, ...result, receipt: typeof fromExtensions === 'string' ? fromExtensions : undefined, request: { query, variables: vars } } as DataRunResponse<TData>;
          }
        } catch (error) {
          throw signingError ?? (await subscriptionError(error, streamUrl));
        } finally {
          // Leaving the loop (break, return) closes the request, and the hub ends the stream.
          await results.return?.(undefined);
          sse.dispose();
        }
      })();
    },
    verifySeal: (token, verifyOptions = {}) => withKeys((jwks) => verifySeal(token, { jwks, ...verifyOptions })),
    verifyReceipt: (token, verifyOptions = {}) => withKeys((jwks) => verifyReceipt(token, { jwks, ...verifyOptions })),
    async verifyReply(response) {
      if (!response.receipt) return { valid: false, reason: 'MALFORMED', message: 'receipt: token is malformed', keyId: undefined };
      const expected = { queryHash: hashText(response.request.query), variablesHash: hashJson(response.request.variables), dataHash: hashJson(response.data ?? null) };
      return client.verifyReceipt(response.receipt, { expected });
    },
    jwks: async () => (await keys()).jwks,
  };
  return client;
}

/** A subscription that could not open or broke off, as a client error naming the hub's code when it gave one. */
async function subscriptionError(error: unknown, url: string): Promise<DataRunClientError> {
  const response = error instanceof NetworkError ? (error.response as Response | undefined) : undefined;
  if (!response) return new DataRunClientError('ERR_HUB_UNREACHABLE', `the subscription at ${url} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  let first: DataRunGraphQLError | undefined;
  try {
    first = ((await response.json()) as { errors?: DataRunGraphQLError[] }).errors?.[0];
  } catch {
    // Not the hub's JSON: the status says enough.
  }
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : `HTTP ${response.status}`;
  return new DataRunClientError('ERR_SUBSCRIPTION_REFUSED', `the hub refused the subscription (${code}): ${first?.message ?? response.statusText}`, { cause: error });
}
