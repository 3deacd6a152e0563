import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { InvalidKeyError, SealInputError } from './errors';
import { checkHeader, decodeCompact, isSigningAlgorithm, signCompact, verifyBytes, type SigningAlgorithm } from './jws';
import type { KeyStore } from './key-store';
import type { SignatureMemo } from './signature-memo';
import type { PrivateJwk } from './request';
import type { VerificationFailureReason } from './signed-jwt';
import { DEFAULT_CLOCK_SKEW_SEC, keyTimeProblem, notYetValidProblem, toMillis } from './trusted-keys';

/** `typ` header of a consent token (a citizen's consent, signed by a consent issuer such as the citizen identity platform). */
export const CONSENT_TOKEN_TYPE = 'datarun-consent+jwt';

/** What a consent says: who (`sub`) consents to what purpose, until when, optionally for one consumer only or for one use only. */
export interface ConsentInput {
  /** The consenting person's identifier. */
  readonly subject: string;
  /** The purpose code consented to. */
  readonly purpose: string;
  /** Expiry. */
  readonly expiresAt: Date | number;
  /** The only consumer the consent is for (`aud`), when it is for one. */
  readonly audience?: string;
  /** For one request only (`once: true`): the hub remembers its `jti` and refuses a second use. */
  readonly once?: boolean;
}

/** Signs consent tokens with a consent issuer's own key (its request key; the `typ` keeps the two apart). */
export interface ConsentSigner {
  /** A compact JWS `{ iss, sub, purpose, iat, exp, jti, aud?, once? }`; the hub accepts at most its policy's `consent.maxLifetime` (24 h by default) from `iat` to `exp`. */
  sign(consent: ConsentInput, now?: Date | number): string;
}

/**
 * Creates the signer a consent issuer's system (the citizen identity platform) uses for citizens'
 * consents. The hub never accepts a consent for the consumer that signed it.
 */
export function createConsentSigner(options: { readonly issuer: string; readonly privateJwk: PrivateJwk }): ConsentSigner {
  const { privateJwk } = options;
  const alg = privateJwk.alg;
  if (typeof privateJwk.d !== 'string' || !privateJwk.kid || !isSigningAlgorithm(alg)) throw new InvalidKeyError('expected a private JWK with "d", "kid" and an ES256, ES384 or EdDSA "alg"');
  let key: KeyObject;
  try {
    const { kid: _kid, alg: _alg, use: _use, ...members } = privateJwk as PrivateJwk & { use?: string };
    key = createPrivateKey({ key: members, format: 'jwk' });
  } catch (error) {
    throw new InvalidKeyError('the private JWK cannot be imported', { cause: error });
  }
  return {
    sign(consent, now) {
      const iat = Math.floor(toMillis(now) / 1000);
      const exp = Math.floor(toMillis(consent.expiresAt) / 1000);
      if (!(exp > iat)) throw new SealInputError('expected a consent that expires after it is issued');
      const claims = { iss: options.issuer, sub: consent.subject, purpose: consent.purpose, iat, exp, jti: randomBytes(16).toString('base64url'), ...(consent.audience ? { aud: consent.audience } : {}), ...(consent.once ? { once: true } : {}) };
      return signCompact({ alg: alg as SigningAlgorithm, kid: privateJwk.kid, typ: CONSENT_TOKEN_TYPE }, claims, alg as SigningAlgorithm, key);
    },
  };
}

/** What the consent verifier reports: the shape the policy engine injects (`ConsentVerification` in src/policy). */
export interface ConsentCheck {
  readonly valid: boolean;
  readonly issuer?: string;
  readonly subject?: string;
  readonly purpose?: string;
  /** Seconds since the epoch. */
  readonly exp?: number;
  /** Seconds since the epoch. */
  readonly iat?: number;
  readonly audience?: string;
  readonly jti?: string;
  /** The consent is for one request only. */
  readonly once?: boolean;
  /** A reason code (never the token's content). */
  readonly reason?: VerificationFailureReason;
}

/**
 * Creates the verifier of consent tokens: the signature must verify under the consumer key its
 * `kid` names, that key must belong to `iss`, and it must not have been revoked when the
 * consent was signed; `iat` is required, and a one-time consent (`once: true`) needs a `jti`.
 * Whether `iss` may issue consents (role `consent-issuer`) and is not the consumer using it, the
 * subject, purpose, audience, expiry, lifetime and one-time use are the policy engine's checks.
 * Never throws for a bad token.
 */
export function createConsentVerifier(options: {
  readonly keyStore: KeyStore;
  readonly now?: () => number;
  readonly clockSkewSec?: number;
  /**
   * Signatures already found valid (`createSignatureMemo`): a citizen's consent travels with every
   * request of a check that relies on it, and each costs a signature check. Only the signature is
   * remembered, under the exact token and key object; the key's owner, use and validity, the
   * token's times and claims are checked on every use, and one-time use is the policy engine's.
   */
  readonly signatures?: SignatureMemo;
}): (token: string) => ConsentCheck {
  const { keyStore, signatures } = options;
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const fail = (reason: VerificationFailureReason): ConsentCheck => ({ valid: false, reason });
  return (token) => {
    const decoded = typeof token === 'string' ? decodeCompact(token, 8192) : undefined;
    if (!decoded) return fail('MALFORMED');
    const problem = checkHeader(decoded.header, CONSENT_TOKEN_TYPE);
    if (problem) return fail(problem);
    const key = keyStore.resolveKey(decoded.header.kid as string);
    if (!key) return fail('UNKNOWN_KEY');
    if (key.use !== 'request' || key.ownerKind !== 'consumer') return fail('WRONG_KEY_USE');
    if (decoded.header.alg !== key.alg) return fail('BAD_ALGORITHM');
    if (!signatures?.has(key.publicKey, token)) {
      if (!verifyBytes(key.alg, key.publicKey, decoded.signingInput, decoded.signature)) return fail('BAD_SIGNATURE');
      signatures?.add(key.publicKey, token);
    }
    const { iss, sub, purpose, iat, exp, jti, aud, once } = decoded.payload;
    if (typeof iss !== 'string' || typeof sub !== 'string' || typeof purpose !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return fail('MALFORMED');
    if (once !== undefined && typeof once !== 'boolean') return fail('MALFORMED');
    if (once === true && (typeof jti !== 'string' || jti.length === 0)) return fail('MALFORMED');
    if (iss !== key.owner) return fail('WRONG_ISSUER');
    const nowMs = options.now ? options.now() : Date.now();
    const notYet = notYetValidProblem({ iat, nbf: decoded.payload.nbf }, nowMs, skewSec);
    if (notYet) return fail(notYet);
    const timeProblem = keyTimeProblem(key, iat, nowMs, skewSec);
    if (timeProblem) return fail(timeProblem);
    return {
      valid: true,
      issuer: iss,
      subject: sub,
      purpose,
      iat,
      exp,
      ...(typeof jti === 'string' ? { jti } : {}),
      ...(typeof aud === 'string' ? { audience: aud } : {}),
      ...(once === true ? { once: true } : {}),
    };
  };
}
