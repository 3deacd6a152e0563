/**
 * Errors of the seal module. One base class with a stable `code` (clients and tests rely on the
 * code, never on the class name); messages about cryptographic failures are deliberately vague
 * and never contain token contents or key material.
 */
import { HubError, type ErrorCode } from '../sdk';

/** The stable codes of the seal module's errors (all of level `operator` in ERROR_CODES: a refused request reaches clients as UNAUTHENTICATED). */
export const SealErrorCode = {
  ERR_UNAUTHENTICATED: 'ERR_UNAUTHENTICATED',
  ERR_TRUST_LIST_INVALID: 'ERR_TRUST_LIST_INVALID',
  ERR_PRIVATE_KEY_MISSING: 'ERR_PRIVATE_KEY_MISSING',
  ERR_KEY_FILE_INSECURE: 'ERR_KEY_FILE_INSECURE',
  ERR_KEY_MISMATCH: 'ERR_KEY_MISMATCH',
  ERR_UNKNOWN_OWNER: 'ERR_UNKNOWN_OWNER',
  ERR_UNKNOWN_KEY: 'ERR_UNKNOWN_KEY',
  ERR_NO_SIGNING_KEY: 'ERR_NO_SIGNING_KEY',
  ERR_ALG_NOT_SUPPORTED: 'ERR_ALG_NOT_SUPPORTED',
  ERR_JWK_INVALID: 'ERR_JWK_INVALID',
  ERR_SEAL_INPUT_INVALID: 'ERR_SEAL_INPUT_INVALID',
  ERR_JCS_INVALID_INPUT: 'ERR_JCS_INVALID_INPUT',
  ERR_KEY_STORE_LOCKED: 'ERR_KEY_STORE_LOCKED',
  ERR_JWKS_UNAVAILABLE: 'ERR_JWKS_UNAVAILABLE',
  ERR_REVOCATION_TIME_INVALID: 'ERR_REVOCATION_TIME_INVALID',
  ERR_PEER_STATEMENT_REFUSED: 'ERR_PEER_STATEMENT_REFUSED',
} as const satisfies Record<string, ErrorCode>;

/** One of the seal module's error codes. */
export type SealErrorCode = (typeof SealErrorCode)[keyof typeof SealErrorCode];

/** Base class of every error the seal module throws; `code` is stable across releases. */
export class SealError extends HubError {
  /** Stable, machine-readable error code, e.g. `ERR_UNAUTHENTICATED`. */
  declare readonly code: SealErrorCode;

  constructor(code: SealErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, {}, options?.cause);
  }
}

/** Why a signed request was refused; `verify` reports exactly one of these. */
export type UnauthenticatedReason =
  | 'MISSING'
  | 'MALFORMED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'LIFETIME_TOO_LONG'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_CONSUMER'
  | 'UNKNOWN_KEY'
  | 'REVOKED_KEY'
  | 'EXPIRED_KEY'
  | 'REPLAYED'
  | 'REPLAY_STATE_RESET'
  | 'BODY_MISMATCH'
  | 'WRONG_AUDIENCE'
  | 'BAD_ALGORITHM'
  | 'FORBIDDEN_HEADER'
  | 'MISSING_CLAIM'
  /** A console request whose session is unknown, expired or logged out. */
  | 'NO_SESSION';

/** A request whose signed token is missing or does not verify; `reason` says which check failed. */
export class UnauthenticatedError extends SealError {
  /** The check that failed. */
  readonly reason: UnauthenticatedReason;
  /** The claim concerned, for MISSING_CLAIM and claim-level MALFORMED failures. */
  readonly claim: string | undefined;

  constructor(reason: UnauthenticatedReason, message: string, claim?: string) {
    super(SealErrorCode.ERR_UNAUTHENTICATED, message);
    this.reason = reason;
    this.claim = claim;
  }
}

/** The trust list or a key file under the keys directory cannot be read or is not valid. */
export class TrustListInvalidError extends SealError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(SealErrorCode.ERR_TRUST_LIST_INVALID, message, options);
  }
}

/** A key the hub must hold (hub key, department in custody) has a public entry but no private key file. */
export class PrivateKeyMissingError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_PRIVATE_KEY_MISSING, message);
  }
}

/** A private key file is readable by group or others (it must be mode 0600). */
export class KeyFileInsecureError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_KEY_FILE_INSECURE, message);
  }
}

/** A private key file does not belong to the public key the trust list names for its kid. */
export class KeyMismatchError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_KEY_MISMATCH, message);
  }
}

/** An owner (department, consumer or hub) id that the trust list does not know. */
export class UnknownOwnerError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_UNKNOWN_OWNER, message);
  }
}

/** A key id that the trust list does not know. */
export class UnknownKeyError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_UNKNOWN_KEY, message);
  }
}

/** No valid private key to sign with for this owner and use (all revoked, expired or not held). */
export class NoSigningKeyError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_NO_SIGNING_KEY, message);
  }
}

/** A signing algorithm that the hub does not allow (only ES256, ES384 and EdDSA are). */
export class UnsupportedAlgorithmError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_ALG_NOT_SUPPORTED, message);
  }
}

/** A JWK or JWKS that cannot be used as given (wrong type, private members where public ones belong…). */
export class InvalidKeyError extends SealError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(SealErrorCode.ERR_JWK_INVALID, message, options);
  }
}

/** Input to a signer (record fields, receipt claims) that cannot be signed as given. */
export class SealInputError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_SEAL_INPUT_INVALID, message);
  }
}

/** A value that is not JSON data (RFC 8785 canonicalization refuses it). */
export class CanonicalizationError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_JCS_INVALID_INPUT, message);
  }
}

/** Another process holds the keys directory's lock for too long. */
export class KeyStoreLockedError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_KEY_STORE_LOCKED, message);
  }
}

/** A JWKS file or URL that cannot be read or does not hold a JWKS. */
export class JwksUnavailableError extends SealError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(SealErrorCode.ERR_JWKS_UNAVAILABLE, message, options);
  }
}

/** A revocation time that cannot be applied: not a time, or before the key's `validFrom` (the message names both times). */
export class RevocationTimeError extends SealError {
  constructor(message: string) {
    super(SealErrorCode.ERR_REVOCATION_TIME_INVALID, message);
  }
}

/** A peer hub's JWKS statement that does not verify against its pinned root; `reason` is the refusal of `verifyPeerJwks`. */
export class PeerStatementRefusedError extends SealError {
  /** Why the statement was refused (`PeerStatementReason` of federation.ts). */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(SealErrorCode.ERR_PEER_STATEMENT_REFUSED, message);
    this.reason = reason;
  }
}

/** True when an error is one of the seal module's own (for callers that map errors to codes). */
export function isSealError(error: unknown): error is SealError {
  return error instanceof SealError;
}
