import { GraphQLError } from 'graphql';
import type { ErrorCode } from './error-codes';

/** The error codes clients rely on; they appear as `extensions.code`. */
export const HubErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  POLICY_DENIED: 'POLICY_DENIED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  MISSING_CONSENT: 'MISSING_CONSENT',
  CONNECTOR_UNAVAILABLE: 'CONNECTOR_UNAVAILABLE',
  CONNECTOR_TIMEOUT: 'CONNECTOR_TIMEOUT',
  UPSTREAM_INVALID_RESPONSE: 'UPSTREAM_INVALID_RESPONSE',
  SEAL_INVALID: 'SEAL_INVALID',
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
  RATE_LIMITED: 'RATE_LIMITED',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  // The request pipeline's refusals of a whole request (status and meaning: ERROR_CODES).
  BAD_REQUEST: 'BAD_REQUEST',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_HASH_MISMATCH: 'PERSISTED_QUERY_HASH_MISMATCH',
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  NOT_ACCEPTABLE: 'NOT_ACCEPTABLE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  REPLAY_GUARD_UNAVAILABLE: 'REPLAY_GUARD_UNAVAILABLE',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  SUBSCRIPTION_EXPIRED: 'SUBSCRIPTION_EXPIRED',
  SUBSCRIPTION_LAGGING: 'SUBSCRIPTION_LAGGING',
  PROOF_NOT_ESTABLISHED: 'PROOF_NOT_ESTABLISHED',
} as const satisfies Record<string, ErrorCode>;

/** One of the public error codes. */
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

/** Extra, non-personal facts an error may carry in `extensions`. */
export interface HubErrorExtensions {
  /** The connector whose department failed. */
  connector?: string;
  /** The argument that was rejected. */
  argument?: string;
  [key: string]: unknown;
}

/**
 * The base of every coded error of the hub: `code` is one of ERROR_CODES (src/sdk/error-codes.ts)
 * and stable across releases. Messages and extensions never hold personal data, upstream bodies
 * or key material. Whether a client may see the code is its `level` in ERROR_CODES: module bases
 * (StateError, AuditError, SealError…) narrow `code` to their own codes.
 */
export class HubError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extensions: HubErrorExtensions = {}, cause?: unknown) {
    super(message, { extensions: { ...extensions, code }, originalError: cause instanceof Error ? cause : undefined });
    this.code = code;
    this.name = new.target.name;
    // As `new Error(message, { cause })` would: GraphQLError keeps only an Error as originalError.
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
}

/** An argument failed validation (a malformed identifier, a list that is too long). */
export class BadUserInputError extends HubError {
  constructor(argument: string, problem: string) {
    super(HubErrorCode.BAD_USER_INPUT, `Argument "${argument}" ${problem}.`, { argument });
  }
}

/** A department system could not be reached or answered with a failure status. */
export class ConnectorUnavailableError extends HubError {
  constructor(connector: string, reason: string, cause?: unknown) {
    super(HubErrorCode.CONNECTOR_UNAVAILABLE, `Department system "${connector}" is unavailable: ${reason}.`, { connector }, cause);
  }
}

/** A department system did not answer within the connector's timeout. */
export class ConnectorTimeoutError extends HubError {
  constructor(connector: string, timeoutMs: number) {
    super(HubErrorCode.CONNECTOR_TIMEOUT, `Department system "${connector}" did not answer within ${timeoutMs} ms.`, { connector, timeoutMs });
  }
}

/** A department system answered, but not with what its contract promises. */
export class UpstreamInvalidResponseError extends HubError {
  constructor(connector: string, reason: string, cause?: unknown) {
    super(HubErrorCode.UPSTREAM_INVALID_RESPONSE, `Department system "${connector}" sent an invalid reply: ${reason}.`, { connector }, cause);
  }
}

/** A connector is defined or configured with a value it cannot use (raised when the hub is composed). */
export class ConnectorDefinitionError extends HubError {
  declare readonly code: 'CONNECTOR_DEFINITION_INVALID';

  constructor(message: string) {
    super('CONNECTOR_DEFINITION_INVALID', message);
  }
}

/** True for the errors that mean "this department failed", as opposed to a bug or bad input. */
export function isUpstreamError(error: unknown): error is HubError {
  return (
    error instanceof ConnectorUnavailableError ||
    error instanceof ConnectorTimeoutError ||
    error instanceof UpstreamInvalidResponseError
  );
}
