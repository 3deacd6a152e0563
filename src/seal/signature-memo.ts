/**
 * Signatures already found valid, so that a token seen again is not checked again: a peer hub's
 * seals come back unchanged on every request about the same record (its seal service keeps them),
 * and each costs its receiver a signature check (docs/federation.md, "What it costs"). Only the
 * signature is remembered, keyed by the exact JWT and the very public key it verified under;
 * everything that depends on time or on the trust list (the key's validity, its owner, `iat`) is
 * checked again on every use. A token that failed is never remembered.
 *
 * A token is remembered by its SHA-256 digest, not its text: a consent travels with every
 * request of a check, a few hundred bytes each, and a hub that holds the tokens themselves fits
 * a few thousand in its budget; a living-allowance check over 400 households of 50 persons sends
 * 20 000, in turn, and a least-recently-used memo smaller than the round of tokens it sees keeps
 * none of them when it is asked again. Hashing a token costs about 1 µs against 60-80 µs for an
 * ES256 check; finding another token with the same digest is SHA-256's collision problem.
 */
import { hash, type KeyObject } from 'node:crypto';
import { createByteLru } from '../sdk';

/** What the verifier asks and tells the memo. */
export interface SignatureMemo {
  /** Whether `jwt` was found validly signed by exactly this key object. */
  has(publicKey: KeyObject, jwt: string): boolean;
  /** Remembers that `jwt` verified under this key object. */
  add(publicKey: KeyObject, jwt: string): void;
  /** Tokens remembered. */
  readonly size: number;
}

/** What one remembered token counts against the budget: its digest (44 characters of base64) and the entry around it. */
export const SIGNATURE_MEMO_ENTRY_BYTES = 160;

/** Default budget of a memo: about 26 000 tokens. */
export const DEFAULT_SIGNATURE_MEMO_BYTES = 4 * 1024 * 1024;

const digestOf = (jwt: string): string => hash('sha256', jwt, 'base64');

/** A memo bounded by the bytes of the digests it holds, least recently used dropped first. */
export function createSignatureMemo(options: { readonly maxBytes?: number } = {}): SignatureMemo {
  // The value is the key object itself: a token remembered under one key never counts for another (a rotated or re-imported key).
  const verified = createByteLru<string, KeyObject>({ maxBytes: options.maxBytes ?? DEFAULT_SIGNATURE_MEMO_BYTES, sizeOf: () => SIGNATURE_MEMO_ENTRY_BYTES });
  return {
    has: (publicKey, jwt) => verified.get(digestOf(jwt)) === publicKey,
    add: (publicKey, jwt) => {
      verified.set(digestOf(jwt), publicKey);
    },
    get size() {
      return verified.size;
    },
  };
}
