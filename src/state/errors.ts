/**
 * Errors of the shared state. One base class with a stable `code` (a HubError, like every coded
 * error of the hub); messages name what failed and never carry a key, a record value, a request
 * id or a Redis password.
 */
import { HubError, type ErrorCode } from '../sdk';

/** The stable codes of the shared state's errors. */
export const StateErrorCode = {
  /** Redis could not be reached or did not answer in time. */
  REDIS_UNAVAILABLE: 'REDIS_UNAVAILABLE',
  /** The replay guard could not check a request id, so the request is refused (fail closed). */
  REPLAY_GUARD_UNAVAILABLE: 'REPLAY_GUARD_UNAVAILABLE',
  /** The in-memory replay guard holds as many live request ids as it may, so the request is refused (fail closed). */
  REPLAY_GUARD_FULL: 'REPLAY_GUARD_FULL',
  /** A sequenced stream does not continue where the writer expects: two writers, or a rewound stream. */
  STREAM_SEQUENCE_CONFLICT: 'STREAM_SEQUENCE_CONFLICT',
  /** A Redis setting cannot be used. */
  REDIS_SETTINGS_INVALID: 'REDIS_SETTINGS_INVALID',
} as const satisfies Record<string, ErrorCode>;

/** One of the shared state's error codes. */
export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

/** The base of the shared state's errors: a stable `code` and a message without data. */
export class StateError extends HubError {
  declare readonly code: StateErrorCode;

  constructor(code: StateErrorCode, message: string, cause?: unknown) {
    super(code, message, {}, cause);
  }
}

/** A Redis command failed for lack of a connection or an answer in time. */
export class RedisUnavailableError extends StateError {
  constructor(what: string, cause?: unknown) {
    super(StateErrorCode.REDIS_UNAVAILABLE, `Redis is unavailable: ${what} failed.`, cause);
  }
}

/**
 * The replay guard could not tell whether a request id was seen before; the request must be
 * refused (fail closed). Every guard's refusal is one of these, whatever the cause: adapters
 * answer it with one status and a retry.
 */
export class ReplayGuardUnavailableError extends StateError {
  constructor(cause?: unknown, code: typeof StateErrorCode.REPLAY_GUARD_UNAVAILABLE | typeof StateErrorCode.REPLAY_GUARD_FULL = StateErrorCode.REPLAY_GUARD_UNAVAILABLE, message = 'The replay guard is unavailable: the request id cannot be checked.') {
    super(code, message, cause);
  }
}

/** The in-memory replay guard is full; the request is refused rather than let memory grow. */
export class ReplayGuardFullError extends ReplayGuardUnavailableError {
  constructor() {
    super(undefined, StateErrorCode.REPLAY_GUARD_FULL, 'The replay guard is full: too many requests in flight to remember their ids.');
  }
}

/** A sequenced stream does not continue at the entry being appended. */
export class StreamSequenceConflictError extends StateError {
  /** `seq`: the stream ends elsewhere; `head`: its head hash does not hold the expected values (another chain, or Redis lost its data). */
  readonly conflict: 'seq' | 'head';

  constructor(first: number, conflict: 'seq' | 'head' = 'seq') {
    super(
      StateErrorCode.STREAM_SEQUENCE_CONFLICT,
      conflict === 'seq' ? `The stream does not continue at entry ${first}.` : `The stream's head does not hold what its writer expects at entry ${first}.`,
    );
    this.conflict = conflict;
  }
}

/** A Redis setting that cannot be used; the message names it and what was expected. */
export class RedisSettingsError extends StateError {
  constructor(setting: string, expected: string) {
    super(StateErrorCode.REDIS_SETTINGS_INVALID, `Redis setting "${setting}" must be ${expected}.`);
  }
}
