/**
 * Console sign-in tokens: `datarun console login` signs one with the consumer's registered
 * request key (the key its system signs requests with: no password lives in the hub), and the hub
 * exchanges it once at `/console/session` for a server-side session. A compact JWS like a signed
 * request token, but with its own `typ` (a request token is never a sign-in token, nor the other
 * way round), no body hash, a lifetime of at most two minutes, and a one-time id the hub's replay
 * guard spends at the exchange.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { InvalidKeyError, UnauthenticatedError } from './errors';
import { checkHeader, decodeCompact, isSigningAlgorithm, signCompact, type SigningAlgorithm } from './jws';
import type { KeyStore } from './key-store';
import type { ReplayGuard } from './replay-guard';
import { checkConsumerSignature, claimTextProblem, type PrivateJwk } from './request';
import { DEFAULT_HUB_ID } from './trust';
import { DEFAULT_CLOCK_SKEW_SEC, notYetValidProblem, toMillis } from './trusted-keys';

/** `typ` header of a console sign-in token. */
export const CONSOLE_LOGIN_TOKEN_TYPE = 'datarun-console-login+jwt';
/** Longest lifetime (exp − iat) of a sign-in token, in seconds. */
export const MAX_CONSOLE_LOGIN_LIFETIME_SEC = 120;
/** Lifetime of the tokens `datarun console login` signs, in seconds. */
export const DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC = 60;

const MAX_TOKEN_LENGTH = 4096;
const MAX_CLAIM_LENGTH = 256;

/** The claims of a sign-in token. */
export interface ConsoleLoginClaims {
  /** The consumer's id. */
  readonly iss: string;
  /** The hub's id. */
  readonly aud: string;
  readonly iat: number;
  /** At most MAX_CONSOLE_LOGIN_LIFETIME_SEC after iat. */
  readonly exp: number;
  /** One-time id, spent by the exchange. */
  readonly jti: string;
  /** 经办人: the person signing in (the access log's operator for every console request of the session). */
  readonly operator: string;
  /** 办件编号: the audit case the session serves, if given (the console can state one per search). */
  readonly case?: string;
}

/** A sign-in token that verified. */
export interface VerifiedConsoleLogin {
  readonly consumer: string;
  readonly roles: readonly string[];
  readonly keyId: string;
  readonly claims: ConsoleLoginClaims;
}

/** What `signConsoleLogin` needs. */
export interface ConsoleLoginInput {
  readonly consumerId: string;
  readonly privateJwk: PrivateJwk;
  readonly operator: string;
  readonly caseNumber?: string;
  /** @default DEFAULT_HUB_ID */
  readonly audience?: string;
  /** @default DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC */
  readonly lifetimeSec?: number;
  readonly now?: Date | number;
}

function algorithmOf(jwk: PrivateJwk): SigningAlgorithm {
  if (jwk.alg !== undefined) {
    if (!isSigningAlgorithm(jwk.alg)) throw new InvalidKeyError(`expected a key for ES256, ES384 or EdDSA, but got: ${jwk.alg}`);
    return jwk.alg;
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  throw new InvalidKeyError('expected an EC P-256, EC P-384 or Ed25519 private key');
}

/** Signs a one-time console sign-in token with the consumer's request key. */
export function signConsoleLogin(input: ConsoleLoginInput): string {
  const { privateJwk } = input;
  if (typeof privateJwk?.d !== 'string') throw new InvalidKeyError('expected a private JWK (with "d")');
  if (!privateJwk.kid) throw new InvalidKeyError('expected a key id: the JWK has no "kid"');
  const lifetimeSec = input.lifetimeSec ?? DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC;
  if (!(lifetimeSec > 0 && lifetimeSec <= MAX_CONSOLE_LOGIN_LIFETIME_SEC)) throw new InvalidKeyError(`expected a sign-in token lifetime from 1 to ${MAX_CONSOLE_LOGIN_LIFETIME_SEC} seconds, but got: ${lifetimeSec}`);
  if (!input.operator || input.operator.length > MAX_CLAIM_LENGTH) throw new InvalidKeyError(`expected an operator name of 1 to ${MAX_CLAIM_LENGTH} characters`);
  const alg = algorithmOf(privateJwk);
  let key: KeyObject;
  try {
    const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...members } = privateJwk as PrivateJwk & { use?: string; key_ops?: unknown };
    key = createPrivateKey({ key: members, format: 'jwk' });
  } catch (error) {
    throw new InvalidKeyError('the private JWK cannot be imported', { cause: error });
  }
  const iat = Math.floor(toMillis(input.now) / 1000);
  const claims: ConsoleLoginClaims = {
    iss: input.consumerId,
    aud: input.audience ?? DEFAULT_HUB_ID,
    iat,
    exp: iat + lifetimeSec,
    jti: randomBytes(16).toString('base64url'),
    operator: input.operator,
    ...(input.caseNumber ? { case: input.caseNumber } : {}),
  };
  return signCompact({ alg, kid: privateJwk.kid, typ: CONSOLE_LOGIN_TOKEN_TYPE }, { ...claims }, alg, key);
}

/** Options of `createConsoleLoginVerifier`. */
export interface ConsoleLoginVerifierOptions {
  readonly keyStore: KeyStore;
  readonly replayGuard: ReplayGuard;
  /** @default keyStore.hubId */
  readonly audience?: string;
  /** @default DEFAULT_CLOCK_SKEW_SEC */
  readonly clockSkewSec?: number;
}

/** Verifies sign-in tokens and spends their one-time ids. */
export interface ConsoleLoginVerifier {
  /** The verified token, its id spent; or throws UnauthenticatedError (REPLAYED on a second use), ReplayGuardUnavailableError when the guard cannot answer. */
  verify(token: string | undefined, now?: Date | number): Promise<VerifiedConsoleLogin>;
}

function fail(reason: 'MISSING' | 'MALFORMED' | 'MISSING_CLAIM' | 'WRONG_AUDIENCE' | 'LIFETIME_TOO_LONG' | 'NOT_YET_VALID' | 'EXPIRED' | 'REPLAYED', claim?: string): never {
  const messages = {
    MISSING: 'sign-in token is missing',
    MALFORMED: claim ? `sign-in token claim "${claim}" is malformed` : 'sign-in token is malformed',
    MISSING_CLAIM: `sign-in token is missing the "${claim}" claim`,
    WRONG_AUDIENCE: 'sign-in token is not for this hub',
    LIFETIME_TOO_LONG: `sign-in token lifetime exceeds ${MAX_CONSOLE_LOGIN_LIFETIME_SEC} seconds`,
    NOT_YET_VALID: 'sign-in token is not yet valid',
    EXPIRED: 'sign-in token has expired',
    REPLAYED: 'sign-in token has already been used',
  };
  throw new UnauthenticatedError(reason, messages[reason], claim);
}

function readClaims(payload: Record<string, unknown>): ConsoleLoginClaims {
  for (const name of ['iss', 'aud', 'iat', 'exp', 'jti', 'operator'] as const) {
    const value = payload[name];
    if (value === undefined || value === null || value === '') fail('MISSING_CLAIM', name);
  }
  for (const name of ['iss', 'aud', 'jti', 'operator'] as const) {
    const value = payload[name];
    if (typeof value !== 'string' || value.length > MAX_CLAIM_LENGTH) fail('MALFORMED', name);
  }
  if (payload.case !== undefined && (typeof payload.case !== 'string' || payload.case.length === 0 || payload.case.length > MAX_CLAIM_LENGTH)) fail('MALFORMED', 'case');
  // The operator (and the case) are read by people in the access log: plain text only, as in a request token.
  for (const name of ['operator', 'case'] as const) {
    const problem = payload[name] === undefined ? undefined : claimTextProblem(payload[name] as string);
    if (problem) throw new UnauthenticatedError('MALFORMED', `sign-in token claim "${name}" ${problem}`, name);
  }
  const { iat, exp, nbf } = payload;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('MALFORMED', 'iat');
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= iat) fail('MALFORMED', 'exp');
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) fail('MALFORMED', 'nbf');
  return payload as unknown as ConsoleLoginClaims;
}

/** Creates the hub's verifier of console sign-in tokens: the same key checks as signed requests, then the replay guard. */
export function createConsoleLoginVerifier(options: ConsoleLoginVerifierOptions): ConsoleLoginVerifier {
  const { keyStore, replayGuard } = options;
  const audience = options.audience ?? keyStore.hubId;
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  return {
    async verify(token, now) {
      if (token === undefined || token === '') fail('MISSING');
      const decoded = typeof token === 'string' ? decodeCompact(token, MAX_TOKEN_LENGTH) : undefined;
      if (!decoded) fail('MALFORMED');
      const problem = checkHeader(decoded.header, CONSOLE_LOGIN_TOKEN_TYPE);
      if (problem) {
        if (problem === 'WRONG_TYPE' || problem === 'MALFORMED') fail('MALFORMED');
        throw new UnauthenticatedError(problem, problem === 'BAD_ALGORITHM' ? 'sign-in token algorithm is not allowed' : 'sign-in token header parameter is not allowed');
      }
      const claims = readClaims(decoded.payload);
      if (claims.aud !== audience) fail('WRONG_AUDIENCE');
      if (claims.exp - claims.iat > MAX_CONSOLE_LOGIN_LIFETIME_SEC) fail('LIFETIME_TOO_LONG');
      const nowMs = toMillis(now);
      if (notYetValidProblem(claims, nowMs, skewSec)) fail('NOT_YET_VALID');
      if (claims.exp + skewSec <= nowMs / 1000) fail('EXPIRED');
      const signer = checkConsumerSignature(keyStore, decoded, claims, nowMs);
      // Its own namespace in the guard: a sign-in id never collides with a request id.
      const fresh = await replayGuard.checkAndRemember(`console-login\u0000${claims.iss}\u0000${claims.jti}`, (claims.exp + skewSec) * 1000);
      if (!fresh) fail('REPLAYED');
      return { ...signer, claims };
    },
  };
}
