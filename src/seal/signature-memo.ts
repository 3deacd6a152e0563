/**
 * Signatures already found valid, so that a token seen again is not checked again: a peer hub's
 * seals come back unchanged on every request about the same record (its seal service keeps them),
 * and each costs its receiver a signature check (docs/federation.md, "What it costs"). Only the
 * signature is remembered, keyed by the exact JWT and the very public key it verified under;
 * everything that depends on time or on the trust list (the key's validity, its owner, `iat`) is
 * checked again on every use. A token that failed is never remembered.
 */
import type { KeyObject } from 'node:crypto';
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

/** Default budget of a memo: about 4 000 seals of 1 KiB. */
export const DEFAULT_SIGNATURE_MEMO_BYTES = 4 * 1024 * 1024;

/** A memo bounded by the bytes of the tokens it holds, least recently used dropped first. */
export function createSignatureMemo(options: { readonly maxBytes?: number } = {}): SignatureMemo {
  // The value is the key object itself: a token remembered under one key never counts for another (a rotated or re-imported key).
  const verified = createByteLru<string, KeyObject>({ maxBytes: options.maxBytes ?? DEFAULT_SIGNATURE_MEMO_BYTES, sizeOf: (jwt) => jwt.length + 64 });
  return {
    has: (publicKey, jwt) => verified.get(jwt) === publicKey,
    add: (publicKey, jwt) => {
      verified.set(jwt, publicKey);
    },
    get size() {
      return verified.size;
    },
  };
}
