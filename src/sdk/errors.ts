import { GraphQLError } from 'graphql';

/** The error codes clients rely on; they appear as `extensions.code`. */
export const HubErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  POLICY_DENIED: 'POLICY_DENIED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONNECTOR_UNAVAILABLE: 'CONNECTOR_UNAVAILABLE',
  CONNECTOR_TIMEOUT: 'CONNECTOR_TIMEOUT',
  UPSTREAM_INVALID_RESPONSE: 'UPSTREAM_INVALID_RESPONSE',
  SEAL_INVALID: 'SEAL_INVALID',
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

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
 * The base of every error the hub reports to a client. Messages and extensions never hold
 * personal data, upstream bodies or key material.
 */
export class HubError extends GraphQLError {
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string, extensions: HubErrorExtensions = {}, cause?: unknown) {
    super(message, { extensions: { ...extensions, code }, originalError: cause instanceof Error ? cause : undefined });
    this.code = code;
    this.name = new.target.name;
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

/** True for the errors that mean "this department failed", as opposed to a bug or bad input. */
export function isUpstreamError(error: unknown): error is HubError {
  return (
    error instanceof ConnectorUnavailableError ||
    error instanceof ConnectorTimeoutError ||
    error instanceof UpstreamInvalidResponseError
  );
}
