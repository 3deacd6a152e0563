/**
 * Errors of webhook delivery. One base class with a stable `code` (a HubError, like every coded
 * error of the hub); messages name what is wrong and never carry a secret, a key or a body.
 */
import { HubError, type ErrorCode } from '../sdk';

/** The stable codes of the delivery library's errors (all of level `operator`). */
export const PushErrorCode = {
  /** A target is off the allow-list, or resolves to an address it does not permit. */
  PUSH_TARGET_REFUSED: 'PUSH_TARGET_REFUSED',
  /** An option, event, key or secret cannot be used as given. */
  PUSH_INPUT_INVALID: 'PUSH_INPUT_INVALID',
  /** `replay`/`skip` named an event that is not dead. */
  PUSH_NOT_DEAD: 'PUSH_NOT_DEAD',
  /** The queue file is damaged. */
  PUSH_QUEUE_CORRUPT: 'PUSH_QUEUE_CORRUPT',
  /** A received webhook does not verify. */
  WEBHOOK_VERIFY_FAILED: 'WEBHOOK_VERIFY_FAILED',
} as const satisfies Record<string, ErrorCode>;

/** One of the delivery library's error codes. */
export type PushErrorCode = (typeof PushErrorCode)[keyof typeof PushErrorCode];

/** The base of the delivery library's errors. */
export class PushError extends HubError {
  declare readonly code: PushErrorCode;

  constructor(code: PushErrorCode, message: string, cause?: unknown) {
    super(code, message, {}, cause);
  }
}

/** Why a received webhook was refused. */
export type WebhookVerifyReason = 'MISSING_HEADER' | 'BAD_TIMESTAMP' | 'STALE_TIMESTAMP' | 'UNKNOWN_KID' | 'BAD_SIGNATURE' | 'NO_KEY';

/** A received webhook does not verify; `reason` says which check failed. */
export class WebhookVerifyError extends PushError {
  readonly reason: WebhookVerifyReason;

  constructor(reason: WebhookVerifyReason, message: string) {
    super(PushErrorCode.WEBHOOK_VERIFY_FAILED, message);
    this.reason = reason;
  }
}

/** A webhook target the allow-list refuses (the message names the URL's origin and why). */
export class TargetRefusedError extends PushError {
  constructor(message: string) {
    super(PushErrorCode.PUSH_TARGET_REFUSED, message);
  }
}

/** Bad input to the library: the message names the option or value. */
export class PushInputError extends PushError {
  constructor(message: string) {
    super(PushErrorCode.PUSH_INPUT_INVALID, message);
  }
}
