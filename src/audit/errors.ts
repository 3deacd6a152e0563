/**
 * The audit log's errors. Only AuditUnavailableError reaches clients (as AUDIT_UNAVAILABLE, from
 * the hub's error contract); the others (AuditError, a HubError of level `operator` in
 * ERROR_CODES) are for operators and the code that drives the log. No message carries a record value, an identifier or key material.
 */
import { HubError, HubErrorCode, type ErrorCode } from '../sdk';

/** The stable codes of the audit log's operator-facing errors. */
export const AuditErrorCode = {
  /** Another live process holds the log for appending. */
  AUDIT_LOG_LOCKED: 'AUDIT_LOG_LOCKED',
  /** The log is damaged in a way opening it must not paper over. */
  AUDIT_LOG_CORRUPT: 'AUDIT_LOG_CORRUPT',
  /** A record handed to `append` is malformed (a programming error in the caller). */
  AUDIT_RECORD_INVALID: 'AUDIT_RECORD_INVALID',
  /** An option or command argument has a value the log cannot use. */
  AUDIT_OPTIONS_INVALID: 'AUDIT_OPTIONS_INVALID',
  /** An export could not be written. */
  AUDIT_EXPORT_FAILED: 'AUDIT_EXPORT_FAILED',
  /** Another live hub process appends to this instance id's audit stream in Redis. */
  AUDIT_INSTANCE_IN_USE: 'AUDIT_INSTANCE_IN_USE',
  /** The audit stream in Redis already holds records past the one being appended: two writers, or a rewound log. */
  AUDIT_STREAM_CONFLICT: 'AUDIT_STREAM_CONFLICT',
  /** Fewer Redis replicas than required acknowledged an audit write in time. */
  AUDIT_REPLICAS_MISSING: 'AUDIT_REPLICAS_MISSING',
} as const satisfies Record<string, ErrorCode>;

/** One of the audit log's operator-facing error codes. */
export type AuditErrorCode = (typeof AuditErrorCode)[keyof typeof AuditErrorCode];

/** The base of the audit log's operator-facing errors: a stable `code` and a message without personal data. */
export class AuditError extends HubError {
  declare readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string, cause?: unknown) {
    super(code, message, {}, cause);
  }
}

/** Another live process appends to this log; two writers would fork the chain. */
export class AuditLogLockedError extends AuditError {
  constructor(dir: string, pid: number) {
    super(AuditErrorCode.AUDIT_LOG_LOCKED, `The audit log in ${dir} is held by process ${pid}.`);
  }
}

/** The log is damaged beyond what a crash leaves behind; `datarun audit verify` locates the damage. */
export class AuditLogCorruptError extends AuditError {
  constructor(problem: string) {
    super(AuditErrorCode.AUDIT_LOG_CORRUPT, `The audit log is damaged: ${problem}; run "datarun audit verify".`);
  }
}

/** A record handed to `append` is malformed; the message names the field, never its value. */
export class AuditRecordError extends AuditError {
  constructor(field: string, problem: string) {
    super(AuditErrorCode.AUDIT_RECORD_INVALID, `Audit record field "${field}" ${problem}.`);
  }
}

/** An option or argument is unusable; the message names it and what was expected. */
export class AuditOptionsError extends AuditError {
  constructor(option: string, expected: string) {
    super(AuditErrorCode.AUDIT_OPTIONS_INVALID, `Audit option "${option}" must be ${expected}.`);
  }
}

/** An export could not be written. */
export class AuditExportError extends AuditError {
  constructor(problem: string, cause?: unknown) {
    super(AuditErrorCode.AUDIT_EXPORT_FAILED, `The audit export failed: ${problem}.`, cause);
  }
}

/** Another live hub process holds this instance id's audit stream; two writers would fork its chain. */
export class AuditInstanceInUseError extends AuditError {
  constructor(instanceId: string) {
    super(AuditErrorCode.AUDIT_INSTANCE_IN_USE, `The audit stream of instance "${instanceId}" is held by another hub process; give each instance its own id.`);
  }
}

/** The audit stream does not continue where this writer expects. */
export class AuditStreamConflictError extends AuditError {
  constructor(instanceId: string, problem: string) {
    super(AuditErrorCode.AUDIT_STREAM_CONFLICT, `The audit stream of instance "${instanceId}" ${problem}.`);
  }
}

/** Fewer replicas than configured acknowledged an audit write within the wait. */
export class AuditReplicasMissingError extends AuditError {
  constructor(wanted: number, got: number) {
    super(AuditErrorCode.AUDIT_REPLICAS_MISSING, `Only ${got} of ${wanted} Redis replicas acknowledged the audit write in time.`);
  }
}

/** Why the audit log cannot take a record, as a stable sub-code in `extensions.reason`. */
export type AuditUnavailableReason = 'DISK_FULL' | 'READ_ONLY' | 'IO_ERROR' | 'CLOSED' | 'FAILED_EARLIER';

const REASON_TEXT: Record<AuditUnavailableReason, string> = {
  DISK_FULL: 'the disk is full',
  READ_ONLY: 'the log is read-only',
  IO_ERROR: 'an I/O error occurred',
  CLOSED: 'the log is closed',
  FAILED_EARLIER: 'an earlier write failed and the log refuses appends until it is reopened',
};

/**
 * The access could not be recorded durably, so its data must not be sent (no audit, no data).
 * Clients see AUDIT_UNAVAILABLE; `reason` tells operators which failure it was.
 */
export class AuditUnavailableError extends HubError {
  readonly reason: AuditUnavailableReason;

  constructor(reason: AuditUnavailableReason, cause?: unknown) {
    super(HubErrorCode.AUDIT_UNAVAILABLE, `The audit log is unavailable: ${REASON_TEXT[reason]}.`, { reason }, cause);
    this.reason = reason;
  }
}

/** Maps a failed file operation to the reason an append was refused. */
export function unavailableReasonOf(error: unknown): AuditUnavailableReason {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') return 'DISK_FULL';
  if (code === 'EROFS' || code === 'EPERM' || code === 'EACCES') return 'READ_ONLY';
  return 'IO_ERROR';
}
