import { createPrivateKey, createPublicKey, KeyObject, type JsonWebKey } from 'node:crypto';
import { InvalidKeyError } from './errors';
import { checkSignature, decodeCompact, signCompact, type SigningAlgorithm } from './jws';
import { publicJwkSchema, type PublicJwk } from './trust';

/**
 * JWTs signed by a holder's own key, which no trust list names: the Key Binding JWT of an SD-JWT
 * (RFC 9901 §4.3), verified with the public key the issuer bound into the token (`cnf.jwk`). The
 * algorithm follows from the key (P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA), never from the
 * token's header.
 */

/** A holder's private key: a private JWK or a node:crypto KeyObject. */
export type HolderPrivateKey = KeyObject | JsonWebKey;

/** The algorithm a public JWK is pinned to. */
function algorithmOfJwk(jwk: PublicJwk): SigningAlgorithm {
  if (jwk.kty === 'OKP') return 'EdDSA';
  return jwk.crv === 'P-256' ? 'ES256' : 'ES384';
}

/**
 * Reads the key members of a public JWK (other members such as `kid`, `alg`, `use` dropped) and
 * checks that they are a key (an EC point on its curve, an Ed25519 key of 32 bytes): the JWK, or
 * why it is not one, in words that complete "the key …".
 */
export function checkPublicJwk(value: unknown): { jwk: PublicJwk } | { problem: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problem: 'is not a JWK (a JSON object)' };
  const { kty, crv, x, y, d } = value as Record<string, unknown>;
  if (d !== undefined) return { problem: 'holds a private part ("d"): send the public key only' };
  const parsed = publicJwkSchema.safeParse(kty === 'OKP' ? { kty, crv, x } : { kty, crv, x, y });
  if (!parsed.success) return { problem: 'is not an EC P-256 or P-384 public key (kty, crv, x, y) or an OKP Ed25519 one (kty, crv, x), in base64url' };
  try {
    createPublicKey({ key: { ...parsed.data }, format: 'jwk' });
  } catch {
    return { problem: parsed.data.kty === 'OKP' ? 'is not an Ed25519 public key: its x is not 32 bytes' : `is not a ${parsed.data.crv} public key: its x and y are not a point on the curve` };
  }
  return { jwk: parsed.data as PublicJwk };
}

/** The key members of a public JWK when they are a key (checkPublicJwk); undefined when not. */
export function readPublicJwk(value: unknown): PublicJwk | undefined {
  const checked = checkPublicJwk(value);
  return 'jwk' in checked ? checked.jwk : undefined;
}

function privateKeyObject(key: HolderPrivateKey): KeyObject {
  if (key instanceof KeyObject) {
    if (key.type !== 'private') throw new InvalidKeyError('a holder key must be a private key');
    return key;
  }
  try {
    const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...members } = key as JsonWebKey & { kid?: unknown; alg?: unknown; use?: unknown };
    return createPrivateKey({ key: members as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new InvalidKeyError('a holder key must be a private EC (P-256, P-384) or Ed25519 JWK', { cause: error });
  }
}

/** The public JWK of a holder key (private JWK, private or public KeyObject): what an issuer binds as `cnf.jwk`. */
export function holderPublicJwk(key: HolderPrivateKey): PublicJwk {
  let object: KeyObject;
  try {
    object = key instanceof KeyObject ? (key.type === 'private' ? createPublicKey(key) : key) : createPublicKey(privateKeyObject(key));
  } catch (error) {
    throw new InvalidKeyError('not a usable holder key', { cause: error });
  }
  const jwk = readPublicJwk(object.export({ format: 'jwk' }));
  if (!jwk) throw new InvalidKeyError('a holder key must be an EC P-256, EC P-384 or Ed25519 key');
  return jwk;
}

/** Signs a holder JWT: header `{ alg, typ }` (the algorithm the key is for), payload as given. */
export function signHolderJwt(typ: string, claims: Readonly<Record<string, unknown>>, key: HolderPrivateKey): string {
  const privateKey = privateKeyObject(key);
  const alg = algorithmOfJwk(holderPublicJwk(privateKey));
  return signCompact({ alg, typ }, { ...claims }, alg, privateKey);
}

/** Why a holder JWT does not verify. */
export type HolderJwtProblem = 'MALFORMED' | 'WRONG_TYPE' | 'BAD_ALGORITHM' | 'FORBIDDEN_HEADER' | 'INVALID_KEY' | 'BAD_SIGNATURE';

/** The outcome of `verifyHolderJwt`. */
export type HolderJwtVerification =
  | { readonly ok: true; readonly header: Readonly<Record<string, unknown>>; readonly payload: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: HolderJwtProblem };

const FORBIDDEN = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64', 'kid'];

/**
 * Verifies a holder JWT with the public JWK the issuer bound (`cnf.jwk`): `typ`, the algorithm
 * the key is for (anything else `BAD_ALGORITHM`), no header naming another key (`jwk`, `kid`,
 * `x5c`…), the signature (low-S for ECDSA). Claims are the caller's to check. Never throws.
 */
export function verifyHolderJwt(token: string, typ: string, boundJwk: unknown): HolderJwtVerification {
  const jwk = readPublicJwk(boundJwk);
  if (!jwk) return { ok: false, reason: 'INVALID_KEY' };
  const decoded = typeof token === 'string' ? decodeCompact(token, 64 * 1024) : undefined;
  if (!decoded) return { ok: false, reason: 'MALFORMED' };
  const alg = algorithmOfJwk(jwk);
  if (decoded.header.alg !== alg) return { ok: false, reason: 'BAD_ALGORITHM' };
  if (FORBIDDEN.some((name) => name in decoded.header)) return { ok: false, reason: 'FORBIDDEN_HEADER' };
  if (decoded.header.typ !== typ) return { ok: false, reason: 'WRONG_TYPE' };
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'INVALID_KEY' };
  }
  if (checkSignature(alg, publicKey, decoded.signingInput, decoded.signature) !== 'VALID') return { ok: false, reason: 'BAD_SIGNATURE' };
  return { ok: true, header: decoded.header, payload: decoded.payload };
}
