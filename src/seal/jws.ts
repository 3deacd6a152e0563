import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/**
 * Compact JWS (RFC 7515) on node:crypto with cached KeyObjects: the per-request hot path.
 * Internal to the seal module; node-jose is used for key management only (see README.md).
 */

/** Signing algorithms a key may be pinned to; ES256 is the default. */
export type SigningAlgorithm = 'ES256' | 'ES384' | 'EdDSA';

/** Every algorithm a key may be pinned to, in order of preference. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'ES384', 'EdDSA'];

interface AlgorithmSpec {
  readonly digest: 'sha256' | 'sha384' | null;
  readonly kty: 'EC' | 'OKP';
  readonly crv: 'P-256' | 'P-384' | 'Ed25519';
  readonly signatureLength: number;
  /** ECDSA: the order n of the curve's base point (S must be ≤ n/2); null for EdDSA. */
  readonly order: bigint | null;
}

/** What each pinned algorithm means for node:crypto and for the JWK it needs. */
export const ALGORITHM_SPECS: Readonly<Record<SigningAlgorithm, AlgorithmSpec>> = {
  ES256: { digest: 'sha256', kty: 'EC', crv: 'P-256', signatureLength: 64, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  ES384: {
    digest: 'sha384',
    kty: 'EC',
    crv: 'P-384',
    signatureLength: 96,
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  EdDSA: { digest: null, kty: 'OKP', crv: 'Ed25519', signatureLength: 64, order: null },
};

/** True when `alg` is one of the algorithms this hub accepts. */
export function isSigningAlgorithm(alg: unknown): alg is SigningAlgorithm {
  return alg === 'ES256' || alg === 'ES384' || alg === 'EdDSA';
}

/** JOSE header parameters that would let a token choose its own key or change how it is processed. */
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64'] as const;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Encodes bytes or UTF-8 text as unpadded base64url. */
export function base64url(data: string | Uint8Array): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength)).toString('base64url');
}

/** Decodes strict unpadded base64url, or returns undefined for anything else. */
export function fromBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64url');
}

/** Big-endian bytes of `value`, `length` long. */
const bytesOf = (value: bigint, length: number): Buffer => Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');

/** Per ECDSA algorithm, the group order n and n/2 as big-endian bytes of S's length: S is compared and negated byte by byte, no BigInt per signature. */
const ORDER_BYTES: Readonly<Partial<Record<SigningAlgorithm, { readonly order: Buffer; readonly half: Buffer }>>> = Object.fromEntries(
  (Object.entries(ALGORITHM_SPECS) as [SigningAlgorithm, AlgorithmSpec][])
    .filter(([, spec]) => spec.order !== null)
    .map(([alg, spec]) => [alg, { order: bytesOf(spec.order!, spec.signatureLength / 2), half: bytesOf(spec.order! >> 1n, spec.signatureLength / 2) }]),
);

/**
 * Whether a raw `R || S` ECDSA signature is in low-S form (S ≤ n/2). For every valid signature
 * (R, S), (R, n − S) is valid too: refusing the high half makes each signature the only one for
 * its message and key, so a token cannot be re-signed into a different string (a new replay id,
 * a new hash) without the private key. Always true for EdDSA, whose signatures are not malleable.
 */
export function isLowS(alg: SigningAlgorithm, signature: Buffer): boolean {
  const bytes = ORDER_BYTES[alg];
  if (!bytes) return true;
  const s = signature.subarray(ALGORITHM_SPECS[alg].signatureLength / 2);
  // S as long as n/2 compares as a number byte by byte; anything else (a wrong length) never verifies anyway.
  return s.length === bytes.half.length ? Buffer.compare(s, bytes.half) <= 0 : s.length < bytes.half.length;
}

/** The low-S form of a raw ECDSA signature: S replaced by n − S when S > n/2 (the same signature for every verifier). */
export function toLowS(alg: SigningAlgorithm, signature: Buffer): Buffer {
  const bytes = ORDER_BYTES[alg];
  if (!bytes || signature.length !== ALGORITHM_SPECS[alg].signatureLength || isLowS(alg, signature)) return signature;
  const half = signature.length / 2;
  // n − S, big-endian with a borrow (S < n, so no borrow is left at the end).
  const out = Buffer.allocUnsafe(signature.length);
  signature.copy(out, 0, 0, half);
  let borrow = 0;
  for (let i = half - 1; i >= 0; i--) {
    const d = bytes.order[i]! - signature[half + i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    out[half + i] = d + (borrow << 8);
  }
  return out;
}

/** Signs bytes with a cached private KeyObject; ECDSA signatures are raw r||s as JWS requires, always in low-S form. */
export function signBytes(alg: SigningAlgorithm, key: KeyObject, data: Buffer): Buffer {
  const spec = ALGORITHM_SPECS[alg];
  return spec.kty === 'EC' ? toLowS(alg, cryptoSign(spec.digest, data, { key, dsaEncoding: 'ieee-p1363' })) : cryptoSign(null, data, key);
}

/** Text of a BAD_SIGNATURE refusal whose signature is mathematically valid but not in low-S form (S > n/2). */
export const HIGH_S_MESSAGE = 'signature is not in low-S form';

/** The outcome of checking a signature: `HIGH_S` is a mathematically valid ECDSA signature refused for its form. */
export type SignatureCheck = 'VALID' | 'INVALID' | 'HIGH_S';

/** Checks a JWS signature with a cached public KeyObject; never throws on bad input. */
export function checkSignature(alg: SigningAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): SignatureCheck {
  const spec = ALGORITHM_SPECS[alg];
  if (signature.length !== spec.signatureLength) return 'INVALID';
  let valid: boolean;
  try {
    valid = spec.kty === 'EC' ? cryptoVerify(spec.digest, data, { key, dsaEncoding: 'ieee-p1363' }, signature) : cryptoVerify(null, data, key, signature);
  } catch {
    return 'INVALID';
  }
  // Form checked after the mathematics, so that a plainly wrong signature is reported as such.
  if (!valid) return 'INVALID';
  return isLowS(alg, signature) ? 'VALID' : 'HIGH_S';
}

/** Verifies a JWS signature with a cached public KeyObject; false for any mismatch or a high-S ECDSA signature, never throws on bad input. */
export function verifyBytes(alg: SigningAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  return checkSignature(alg, key, data, signature) === 'VALID';
}

/** Builds a compact JWS `header.payload.signature` over the JSON of header and payload. */
export function signCompact(header: Record<string, unknown>, payload: Record<string, unknown>, alg: SigningAlgorithm, key: KeyObject): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${signingInput}.${signBytes(alg, key, Buffer.from(signingInput, 'latin1')).toString('base64url')}`;
}

/** A compact JWS split and decoded, not yet verified. */
export interface DecodedJws {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

function parseObject(segment: string): Record<string, unknown> | undefined {
  const bytes = fromBase64url(segment);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS; undefined when it is not one (wrong shape, bad base64url, not JSON objects). */
export function decodeCompact(token: string, maxLength: number): DecodedJws | undefined {
  if (token.length > maxLength) return undefined;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) return undefined;
  const header = parseObject(token.slice(0, first));
  const payload = header && parseObject(token.slice(first + 1, second));
  const signature = payload && fromBase64url(token.slice(second + 1));
  if (!header || !payload || !signature) return undefined;
  return { header, payload, signingInput: Buffer.from(token.slice(0, second), 'latin1'), signature };
}

/** What is wrong with a JWS header, checked before any key is looked up. */
export type HeaderProblem = 'BAD_ALGORITHM' | 'FORBIDDEN_HEADER' | 'WRONG_TYPE' | 'MALFORMED';

/**
 * Checks a protected header: a pinnable algorithm (never `none`, HMAC or RSA), no embedded or
 * remote key (`jwk`, `jku`, `x5u`, `x5c`…) and no `crit`, a `kid`, and the expected `typ`.
 */
export function checkHeader(header: Record<string, unknown>, typ: string): HeaderProblem | undefined {
  if (!isSigningAlgorithm(header.alg)) return 'BAD_ALGORITHM';
  for (const name of FORBIDDEN_HEADERS) if (name in header) return 'FORBIDDEN_HEADER';
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 200) return 'MALFORMED';
  if (header.typ !== typ) return 'WRONG_TYPE';
  return undefined;
}
