import { importJwks, type Jwks } from './jwks';
import { checkHeader, checkSignature, decodeCompact, HIGH_S_MESSAGE, signCompact } from './jws';
import type { SignatureMemo } from './signature-memo';
import { signingKeyFor, type KeyStore } from './key-store';
import type { KeyUse, OwnerKind } from './trust';
import { DEFAULT_CLOCK_SKEW_SEC, keyTimeProblem, notYetValidProblem, toMillis, type TrustedKey, type TrustedKeys } from './trusted-keys';

/**
 * Issuer-signed JWTs of the hub and the departments (seal JWTs, receipts, checkpoints): one
 * signing path on cached KeyObjects, one verification path that never throws for a bad token.
 */

/** Why a seal, receipt or checkpoint does not verify. */
export type VerificationFailureReason =
  | 'MALFORMED'
  | 'WRONG_TYPE'
  | 'BAD_ALGORITHM'
  | 'FORBIDDEN_HEADER'
  | 'UNKNOWN_KEY'
  | 'WRONG_KEY_USE'
  | 'WRONG_ISSUER'
  | 'BAD_SIGNATURE'
  | 'NOT_YET_VALID'
  | 'REVOKED_KEY'
  | 'EXPIRED_KEY'
  | 'KEY_NOT_YET_VALID'
  | 'UNSUPPORTED_SD_ALG'
  | 'MALFORMED_DISCLOSURE'
  | 'DISCLOSURE_NOT_SIGNED'
  | 'DUPLICATE_DISCLOSURE'
  | 'HASH_MISMATCH'
  | 'UNSUPPORTED_VERSION';

/** Human text of each failure: deliberately vague about cryptography, never quoting the token. */
export const FAILURE_MESSAGES: Readonly<Record<VerificationFailureReason, string>> = {
  MALFORMED: 'token is malformed',
  WRONG_TYPE: 'token is not of the expected type',
  BAD_ALGORITHM: 'algorithm is not allowed',
  FORBIDDEN_HEADER: 'header parameter is not allowed',
  UNKNOWN_KEY: 'unknown signing key',
  WRONG_KEY_USE: 'signing key is not for this kind of token',
  WRONG_ISSUER: 'signing key does not belong to the issuer',
  BAD_SIGNATURE: 'signature verification failed',
  NOT_YET_VALID: 'token is not yet valid (issued in the future or before its nbf)',
  REVOKED_KEY: 'signing key was revoked before the token was issued',
  EXPIRED_KEY: 'signing key has expired',
  KEY_NOT_YET_VALID: 'token predates its signing key',
  UNSUPPORTED_SD_ALG: 'disclosure digest algorithm is not supported',
  MALFORMED_DISCLOSURE: 'disclosure is malformed',
  DISCLOSURE_NOT_SIGNED: 'disclosure is not covered by the signature',
  DUPLICATE_DISCLOSURE: 'disclosure appears more than once',
  HASH_MISMATCH: 'receipt does not match the reply',
  UNSUPPORTED_VERSION: 'token format version is not supported',
};

/** Where the verifier takes its public keys from: a key store, a JWKS document, or keys imported once with `importJwks`. */
export type VerificationKeys = { readonly keyStore: KeyStore } | { readonly jwks: Jwks | TrustedKeys };

/** Options of `verifySeal`, `verifyReceipt` and `verifyCheckpoint`. */
export type VerifyOptions = VerificationKeys & {
  /** @default now */
  readonly now?: Date | number;
  /** Leeway for clocks, in seconds. @default DEFAULT_CLOCK_SKEW_SEC (60) */
  readonly clockSkewSec?: number;
  /** Signatures already found valid (`createSignatureMemo`): a token in it is not checked again; every other check is. @default none */
  readonly signatures?: SignatureMemo;
};

/** Turns verification options into keys to verify with (imports a JWKS document once). */
export function trustedKeysOf(options: VerificationKeys): TrustedKeys {
  if ('keyStore' in options) return options.keyStore;
  const { jwks } = options;
  return typeof (jwks as TrustedKeys).resolveKey === 'function' ? (jwks as TrustedKeys) : importJwks(jwks);
}

/** A verified issuer-signed JWT. */
export interface VerifiedJwt {
  readonly ok: true;
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown> & { iss: string; iat: number };
  readonly key: TrustedKey;
}

/** A JWT that did not verify; `keyId` is the kid it claimed, when it could be read. */
export interface RejectedJwt {
  readonly ok: false;
  readonly reason: VerificationFailureReason;
  readonly keyId: string | undefined;
  /** A more precise text than `FAILURE_MESSAGES[reason]`, when there is one (a high-S signature, a key the JWKS held but left out). */
  readonly message?: string;
}

/** The text of a refusal: the precise message when the verifier gave one, else the reason's. */
export function failureMessage(rejected: Pick<RejectedJwt, 'reason' | 'message'>): string {
  return rejected.message ?? FAILURE_MESSAGES[rejected.reason];
}

/** What to expect of a JWT: its `typ`, the use of its key and the kind of its issuer. */
export interface JwtExpectation {
  readonly typ: string;
  readonly use: KeyUse;
  readonly issuerKind: OwnerKind;
}

/** Verifies header, key, signature (low-S for ECDSA), issuer, `iat`/`nbf` and key validity; the signature is checked before any claim is trusted. */
export function verifyIssuerJwt(jwt: string, expect: JwtExpectation, keys: TrustedKeys, options: { now?: Date | number; clockSkewSec?: number; signatures?: SignatureMemo }): VerifiedJwt | RejectedJwt {
  const decoded = decodeCompact(jwt, 1024 * 1024);
  if (!decoded) return { ok: false, reason: 'MALFORMED', keyId: undefined };
  const problem = checkHeader(decoded.header, expect.typ);
  const keyId = typeof decoded.header.kid === 'string' ? decoded.header.kid : undefined;
  if (problem) return { ok: false, reason: problem, keyId };
  const key = keys.resolveKey(keyId!);
  if (!key) {
    const skipped = keys.skippedKey?.(keyId!);
    return { ok: false, reason: 'UNKNOWN_KEY', keyId, ...(skipped ? { message: `${FAILURE_MESSAGES.UNKNOWN_KEY}: the JWKS's key ${JSON.stringify(keyId)} was left out (${skipped})` } : {}) };
  }
  if (key.use !== expect.use) return { ok: false, reason: 'WRONG_KEY_USE', keyId };
  if (decoded.header.alg !== key.alg) return { ok: false, reason: 'BAD_ALGORITHM', keyId };
  const memo = options.signatures;
  if (!memo?.has(key.publicKey, jwt)) {
    const signature = checkSignature(key.alg, key.publicKey, decoded.signingInput, decoded.signature);
    if (signature === 'HIGH_S') return { ok: false, reason: 'BAD_SIGNATURE', keyId, message: HIGH_S_MESSAGE };
    if (signature !== 'VALID') return { ok: false, reason: 'BAD_SIGNATURE', keyId };
    memo?.add(key.publicKey, jwt);
  }
  const { iss, iat, nbf } = decoded.payload;
  if (typeof iss !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) return { ok: false, reason: 'MALFORMED', keyId };
  if (iss !== key.owner || key.ownerKind !== expect.issuerKind) return { ok: false, reason: 'WRONG_ISSUER', keyId };
  const nowMs = toMillis(options.now);
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const notYet = notYetValidProblem({ iat, nbf }, nowMs, skewSec);
  if (notYet) return { ok: false, reason: notYet, keyId };
  const timeProblem = keyTimeProblem(key, iat, nowMs, skewSec);
  if (timeProblem) return { ok: false, reason: timeProblem, keyId };
  return { ok: true, header: decoded.header, payload: decoded.payload as VerifiedJwt['payload'], key };
}

/** Signs an issuer JWT with the owner's current key for `use`; `iss` and `iat` are set here. */
export function signIssuerJwt(keyStore: KeyStore, owner: string, use: KeyUse, typ: string, claims: Record<string, unknown>, now?: Date | number): { token: string; kid: string; iat: number } {
  const nowMs = toMillis(now);
  const key = signingKeyFor(keyStore, owner, use, nowMs);
  const iat = Math.floor(nowMs / 1000);
  const { iss: _iss, iat: _iat, ...rest } = claims;
  const token = signCompact({ alg: key.alg, kid: key.kid, typ }, { iss: owner, iat, ...rest }, key.alg, key.privateKey);
  return { token, kid: key.kid, iat };
}
