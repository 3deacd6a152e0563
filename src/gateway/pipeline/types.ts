/**
 * What flows through the request pipeline: the request as an adapter hands it over (transport
 * facts, never a socket), the state each stage adds, and the reply it gets back. No stage sets a
 * status or a header: a reply names its error code, and the adapter maps codes to its transport.
 */
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import type { AllowedDecision, Decision, GrantedOperation } from '../../policy';
import type { ErrorCode } from '../../sdk';
import type { VerifiedRequest } from '../../seal';
import type { CaseChange } from '../../cases';
import type { Caller, RequestContext } from '../request-context';

/** A refusal the transport made before the pipeline could read the request (wrong method, body too large…). */
export interface TransportRefusal {
  /** A request-level error code of the registry: METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, HEADERS_TOO_LARGE, SHUTTING_DOWN… */
  readonly code: ErrorCode;
  readonly message: string;
}

/** What a console request states besides its session id. */
export interface ConsoleRequestSession {
  readonly id: string;
  /** 事由: one of CONSOLE_PURPOSES. */
  readonly purpose: string;
  /** 办件编号 */
  readonly caseNumber: string;
}

/** One request as an adapter hands it to `gateway.execute`. */
export interface HubRequest {
  /** The body bytes exactly as received (the signature covers them). Absent when the transport refused the request. */
  readonly body?: Buffer;
  /** Set when the transport refused the request: the pipeline records it and replies with it. */
  readonly refusal?: TransportRefusal;
  /** The media type the client declared for the body (`content-type`), lower-cased, without parameters. */
  readonly contentType?: string;
  /** The `charset` parameter of `content-type`, lower-cased, when the client gave one. */
  readonly charset?: string;
  /** The `content-encoding` header, lower-cased, when the client sent one. */
  readonly contentEncoding?: string;
  /** The `Authorization` header (the signed request token). */
  readonly authorization?: string;
  /**
   * A console request (`/console/graphql`): the opaque session id from its cookie, with the purpose
   * and case it states. The authenticate stage looks the session up and takes its consumer as the
   * caller; a request carries either this or a signed request token, never both.
   */
  readonly session?: ConsoleRequestSession;
  /** The consent tokens header (`x-datarun-consent`). */
  readonly consent?: string;
  /** The client's own id for the request (`x-request-id`): kept as a correlation id, never used as the hub's id. */
  readonly correlationId?: string;
  /** The address of the peer that sent the request, and the `X-Forwarded-For` chain it carried. */
  readonly peer?: { readonly address?: string; readonly forwardedFor?: string };
  /** Aborted when the client goes away or the hub stops. */
  readonly signal?: AbortSignal;
  /**
   * Instead of `signal`: the adapter's own controller for the request, aborted by the adapter when
   * the client goes away or the hub stops. The pipeline aborts this same controller at the
   * deadline rather than joining a second one to it (an AbortSignal listener costs about 10 µs of
   * a request on Node 20). Given to one request only; honoured by `execute` (`open` reads `signal`).
   */
  readonly controller?: AbortController;
  /** Set by the pipeline's `open`: the request opens a subscription (only a subscription operation is admitted). */
  readonly subscription?: boolean;
  /** The caller's W3C trace context (`traceparent`, `tracestate` headers): the parent of the request's span when the hub traces (docs/tracing.md). */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** A GraphQL reply: data, errors and extensions (the receipt, masked paths). */
export interface GatewayReply {
  data?: Record<string, unknown> | null;
  errors?: readonly unknown[];
  extensions?: Record<string, unknown>;
}

/** What `gateway.execute` answers. */
export interface HubReply {
  /** The hub-made id of the request: in the access record, the receipt, and the adapter's `x-request-id`. */
  readonly requestId: string;
  /** The request-level error code when the request was refused (the registry gives its status); null when the operation ran. */
  readonly code: ErrorCode | null;
  readonly body: GatewayReply;
  /** When the client may retry (rate limits, an unavailable replay guard or access log). */
  readonly retryAfterSeconds?: number;
}

/** The GraphQL request in the body, once read. */
export interface GraphQLBody {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  /** As sent: null when absent. An empty name selects nothing and is recorded as sent. */
  readonly operationName: string | null;
}

/** The state of one request as it passes the stages; each stage reads what earlier ones set. */
export interface Flow {
  readonly request: HubRequest;
  readonly requestId: string;
  /** The client's address as configured proxies let the hub see it (IPv6 by /64). */
  readonly source: string;
  /** The request's signal: aborted when the client goes away, the hub stops, or the deadline passes. */
  readonly signal: AbortSignal;
  /** True once the authentication stage passed (or security is open): refusals before it are aggregated, not recorded one by one. */
  authenticated: boolean;
  caller: Caller | null;
  /** The verified request token, for the replay guard. */
  verified?: VerifiedRequest;
  body?: GraphQLBody;
  document?: DocumentNode;
  operation?: OperationDefinitionNode;
  /** What the grants allow, its consents still to check (the consent stage). */
  granted?: GrantedOperation;
  /** The policy's decision, allowed or not (a denial is recorded with its reads and subjects). */
  decision?: Decision;
  allowed: AllowedDecision | null;
  context?: RequestContext;
  /** The value execution starts from: a delivery's event (absent for queries and mutations). */
  rootValue?: unknown;
  /** Cases a delivery opened before it ran: its record carries their changes. */
  caseChanges?: readonly CaseChange[];
}

/** A stage: reads the flow, adds to it, or throws a coded HubError to refuse the request. */
export type Stage = (flow: Flow) => void | Promise<void>;
