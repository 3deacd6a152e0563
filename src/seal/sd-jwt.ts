import { randomBytes } from 'node:crypto';
import { canonicalize } from './canonicalize';
import { SealInputError } from './errors';
import { sha256Base64url } from './hash';
import { base64url, fromBase64url } from './jws';

/**
 * SD-JWT building blocks (RFC 9901) for tokens other than the record seals: salted disclosures,
 * their digests, and the `sd_hash` a Key Binding JWT signs. One disclosure per object property;
 * an array (e.g. `properties: [...]`) is disclosed whole, as one claim.
 */

/** The only `_sd_alg` the hub writes and accepts. */
export const SD_ALG = 'sha-256';

/** A disclosure as issued: its base64url text and the digest that goes into `_sd`. */
export interface IssuedDisclosure {
  readonly name: string;
  /** base64url of the JSON array `[salt, name, value]`. */
  readonly encoded: string;
  /** base64url(SHA-256(ASCII(encoded))): the `_sd` entry. */
  readonly digest: string;
}

/** Makes the disclosure of one object property with a fresh 128-bit salt; the value must be JSON data. */
export function createDisclosure(name: string, value: unknown): IssuedDisclosure {
  if (typeof name !== 'string' || name === '' || name === '_sd' || name === '...') throw new SealInputError(`"${String(name)}" cannot be a disclosed claim name`);
  try {
    canonicalize(value);
  } catch {
    throw new SealInputError(`claim "${name}" is not JSON data`);
  }
  const encoded = base64url(JSON.stringify([randomBytes(16).toString('base64url'), name, value]));
  return { name, encoded, digest: sha256Base64url(encoded) };
}

/** A disclosure read back: undefined when it is not strict base64url of a JSON array `[salt, name, value]`. */
export interface DecodedDisclosure {
  readonly salt: string;
  readonly name: string;
  readonly value: unknown;
  readonly digest: string;
}

/** Decodes an object-property disclosure; undefined for anything else (array-element disclosures included). */
export function decodeDisclosure(encoded: string): DecodedDisclosure | undefined {
  if (typeof encoded !== 'string' || encoded === '') return undefined;
  const bytes = fromBase64url(encoded);
  if (!bytes) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || typeof decoded[0] !== 'string' || typeof decoded[1] !== 'string') return undefined;
  return { salt: decoded[0], name: decoded[1], value: decoded[2] as unknown, digest: sha256Base64url(encoded) };
}

/** The `sd_hash` of a Key Binding JWT: base64url(SHA-256(ASCII of the presentation up to and including its last `~`)). */
export function sdHashOf(presentationWithoutKeyBinding: string): string {
  return sha256Base64url(presentationWithoutKeyBinding);
}
