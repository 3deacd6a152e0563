import type { KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from './jws';
import type { KeyUse, OwnerKind } from './trust';

/** A public key ready to verify with: its trust entry and a KeyObject imported once. */
export interface TrustedKey {
  readonly kid: string;
  readonly owner: string;
  readonly ownerKind: OwnerKind;
  readonly use: KeyUse;
  readonly alg: SigningAlgorithm;
  /** Epoch milliseconds. */
  readonly validFrom: number;
  /** Epoch milliseconds; undefined = open. */
  readonly validTo: number | undefined;
  /** Epoch milliseconds; undefined = not revoked. */
  readonly revokedAt: number | undefined;
  readonly publicKey: KeyObject;
}

/** Public keys to verify with, by kid: a loaded key store, or a JWKS imported with `importJwks`. */
export interface TrustedKeys {
  /** The key with this kid, or undefined when it is not trusted. */
  resolveKey(kid: string): TrustedKey | undefined;
  /**
   * Why a key of this kid that the source held was left out (an imported JWKS: a key that is not
   * on its curve, a member missing), so that a token signed with it is refused with the reason,
   * not only as unknown; undefined when the source held no such key.
   */
  skippedKey?(kid: string): string | undefined;
}

/** Leeway for clocks of different machines, in seconds. @default 60 */
export const DEFAULT_CLOCK_SKEW_SEC = 60;

/**
 * Whether a key may vouch for something it signed at `signedAtSec` when checked at `nowMs`:
 * nothing signed at or after its revocation, nothing at all after its `validTo`.
 */
export function keyTimeProblem(key: TrustedKey, signedAtSec: number, nowMs: number, skewSec: number): 'REVOKED_KEY' | 'EXPIRED_KEY' | 'KEY_NOT_YET_VALID' | undefined {
  const signedAtMs = signedAtSec * 1000;
  if (key.revokedAt !== undefined && signedAtMs >= key.revokedAt) return 'REVOKED_KEY';
  if (key.validTo !== undefined && nowMs > key.validTo) return 'EXPIRED_KEY';
  if (signedAtMs + skewSec * 1000 < key.validFrom) return 'KEY_NOT_YET_VALID';
  return undefined;
}

/**
 * Whether a token may be used yet at `nowMs`: issued (`iat`) and, when it has one, valid from
 * (`nbf`) no later than now plus the clock skew. A non-numeric `nbf` is MALFORMED: a verifier
 * that skipped a claim it cannot read would accept the token before its time.
 */
export function notYetValidProblem(claims: { readonly iat: number; readonly nbf?: unknown }, nowMs: number, skewSec: number): 'MALFORMED' | 'NOT_YET_VALID' | undefined {
  const { nbf } = claims;
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) return 'MALFORMED';
  const latestMs = nowMs + skewSec * 1000;
  if (claims.iat * 1000 > latestMs || (nbf !== undefined && nbf * 1000 > latestMs)) return 'NOT_YET_VALID';
  return undefined;
}

/** Reads a `Date | epoch-ms` option as epoch milliseconds, defaulting to the current time. */
export function toMillis(now: Date | number | undefined): number {
  if (now === undefined) return Date.now();
  return typeof now === 'number' ? now : now.getTime();
}
