/**
 * Errors of the shared state. One base class with a stable `code`; messages name what failed
 * and never carry a key, a record value, a request id or a Redis password.
 */

/** The stable codes of the shared state's errors. */
export const CacheErrorCode = {
  /** Redis could not be reached or did not answer in time. */
  REDIS_UNAVAILABLE: 'REDIS_UNAVAILABLE',
  /** The replay guard could not check a request id, so the request is refused (fail closed). */
  REPLAY_GUARD_UNAVAILABLE: 'REPLAY_GUARD_UNAVAILABLE',
  /** Another live hub process appends to this instance id's audit stream. */
  AUDIT_INSTANCE_IN_USE: 'AUDIT_INSTANCE_IN_USE',
  /** The audit stream already holds records past the one being appended: two writers, or a rewound log. */
  AUDIT_STREAM_CONFLICT: 'AUDIT_STREAM_CONFLICT',
  /** Fewer replicas than required acknowledged an audit write in time. */
  AUDIT_REPLICAS_MISSING: 'AUDIT_REPLICAS_MISSING',
  /** A Redis setting cannot be used. */
  REDIS_SETTINGS_INVALID: 'REDIS_SETTINGS_INVALID',
} as const;

/** One of the shared state's error codes. */
export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

/** The base of the shared state's errors: a stable `code` and a message without data. */
export class CacheError extends Error {
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A Redis command failed for lack of a connection or an answer in time. */
export class RedisUnavailableError extends CacheError {
  constructor(what: string, cause?: unknown) {
    super(CacheErrorCode.REDIS_UNAVAILABLE, `Redis is unavailable: ${what} failed.`, cause);
  }
}

/** The replay guard could not tell whether a request id was seen before; the request must be refused. */
export class ReplayGuardUnavailableError extends CacheError {
  constructor(cause?: unknown) {
    super(CacheErrorCode.REPLAY_GUARD_UNAVAILABLE, 'The replay guard is unavailable: the request id cannot be checked.', cause);
  }
}

/** Another live hub process holds this instance id's audit stream; two writers would fork its chain. */
export class AuditInstanceInUseError extends CacheError {
  constructor(instanceId: string) {
    super(CacheErrorCode.AUDIT_INSTANCE_IN_USE, `The audit stream of instance "${instanceId}" is held by another hub process; give each instance its own id.`);
  }
}

/** The audit stream does not continue where this writer expects. */
export class AuditStreamConflictError extends CacheError {
  constructor(instanceId: string, problem: string) {
    super(CacheErrorCode.AUDIT_STREAM_CONFLICT, `The audit stream of instance "${instanceId}" ${problem}.`);
  }
}

/** Fewer replicas than configured acknowledged an audit write within the wait. */
export class AuditReplicasMissingError extends CacheError {
  constructor(wanted: number, got: number) {
    super(CacheErrorCode.AUDIT_REPLICAS_MISSING, `Only ${got} of ${wanted} Redis replicas acknowledged the audit write in time.`);
  }
}

/** A Redis setting that cannot be used; the message names it and what was expected. */
export class RedisSettingsError extends CacheError {
  constructor(setting: string, expected: string) {
    super(CacheErrorCode.REDIS_SETTINGS_INVALID, `Redis setting "${setting}" must be ${expected}.`);
  }
}
