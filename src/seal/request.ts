import { createPrivateKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { InvalidKeyError, SealInputError, UnauthenticatedError, type UnauthenticatedReason } from './errors';
import { sha256Base64url } from './hash';
import { isWellFormed } from './canonicalize';
import { checkHeader, checkSignature, decodeCompact, HIGH_S_MESSAGE, isSigningAlgorithm, signCompact, type SigningAlgorithm } from './jws';
import type { KeyStore } from './key-store';
import type { ReplayGuard } from './replay-guard';
import { DEFAULT_HUB_ID } from './trust';
import { DEFAULT_CLOCK_SKEW_SEC, notYetValidProblem, toMillis } from './trusted-keys';

/** `typ` header of a signed request token. */
export const REQUEST_TOKEN_TYPE = 'datarun-request+jwt';
/** Authorization scheme of a signed request: `Authorization: DatarunRequest <compact JWS>`. */
export const REQUEST_AUTH_SCHEME = 'DatarunRequest';
/** Longest lifetime (exp − iat) a request token may have, in seconds. */
export const MAX_REQUEST_LIFETIME_SEC = 300;
/** Lifetime of the tokens the client signs, in seconds. @default 60 */
export const DEFAULT_REQUEST_LIFETIME_SEC = 60;

const MAX_TOKEN_LENGTH = 8192;
const MAX_CLAIM_LENGTH = 256;

/**
 * Characters a claim people read (purpose, case number, operator) never holds: controls (C0, DEL,
 * C1) and the invisible formatting characters that reorder or hide text (bidirectional controls,
 * zero-width characters, the BOM), which would let a record read differently from what it holds.
 */
const UNREADABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/**
 * What is wrong with the text of a claim that lands in the access log as people read it (purpose,
 * case, operator), as words that complete `request token claim "case" …`; undefined when it is
 * plain text: well-formed Unicode, no control or invisible formatting character, no space at
 * either end (a case number kept as " C-1" would not be found as "C-1").
 */
export function claimTextProblem(value: string): string | undefined {
  if (!isWellFormed(value)) return 'is not well-formed Unicode (it holds a lone surrogate)';
  const found = UNREADABLE.exec(value);
  if (found) return `holds the control or invisible character U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at character ${found.index + 1}`;
  if (value.trim() !== value) return 'begins or ends with a space';
  return undefined;
}

/** The claims a request states that people read in the access log. */
const READ_CLAIMS = ['purpose', 'case', 'operator'] as const;

/** The claims of a signed request (all required). */
export interface RequestClaims {
  /** The consumer's id. */
  readonly iss: string;
  /** The hub's id. */
  readonly aud: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch; at most 300 s after `iat`. */
  readonly exp: number;
  /** One-time id; the hub refuses a second request carrying it. */
  readonly jti: string;
  /** Base64url SHA-256 of the exact HTTP body bytes. */
  readonly bh: string;
  /** 事由: purpose code of the request. */
  readonly purpose: string;
  /** 办件编号: case number the request serves. */
  readonly case: string;
  /** 经办人: the operator acting in the consumer's system. */
  readonly operator: string;
  /** Optional: not valid before, seconds since the epoch; refused (NOT_YET_VALID) until then, less the clock skew. */
  readonly nbf?: number;
  /**
   * Optional, only from a consumer the sharing policy marks as a hub (role `federation-peer`):
   * the request is made on behalf of a consumer of that hub (跨域通办, docs/federation.md).
   */
  readonly obo?: OnBehalfOf;
}

/**
 * On whose behalf a peer hub asks: its own id, the original consumer there, that hub's request
 * id, and the federation request id both hubs' records share. Purpose, case number and operator
 * are the token's own claims (the requesting hub passes on the original ones).
 */
export interface OnBehalfOf {
  /** The requesting hub's id (kebab-case, at most 64 characters). */
  readonly hub: string;
  /** The original consumer at that hub (kebab-case, at most 64 characters). */
  readonly consumer: string;
  /** That hub's request id (1 to 128 of `A-Z a-z 0-9 . _ : -`). */
  readonly request: string;
  /** The federation request id the requesting hub made, e.g. a UUID (1 to 128 of `A-Z a-z 0-9 . _ : -`). */
  readonly federation: string;
}

/** Why a request is made: purpose 事由, case number 办件编号, operator 经办人; and, from a peer hub, on whose behalf. */
export interface RequestContext {
  readonly purpose: string;
  readonly caseNumber: string;
  readonly operator: string;
  /** Signed as the `obo` claim: only a peer hub's consumer may send it (docs/federation.md). */
  readonly onBehalfOf?: OnBehalfOf;
}

/** The members of the `obo` claim, in order. */
export const OBO_MEMBERS = ['hub', 'consumer', 'request', 'federation'] as const;
/** Longest hub or consumer id in an `obo` claim. */
export const MAX_OBO_ID_LENGTH = 64;
/** Longest request or federation id in an `obo` claim. */
export const MAX_OBO_REQUEST_ID_LENGTH = 128;
const OBO_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const OBO_REQUEST_ID = /^[A-Za-z0-9._:-]+$/;

/**
 * What is wrong with an `obo` claim, as `{ member, problem }` (the member is `obo` itself or
 * `obo.<name>`; the problem a fixed sentence, never the value); undefined when it is well formed.
 */
export function oboProblem(value: unknown): { member: string; problem: string } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { member: 'obo', problem: 'must be an object with hub, consumer, request and federation' };
  const members = Object.keys(value);
  const unknown = members.find((m) => !(OBO_MEMBERS as readonly string[]).includes(m));
  if (unknown !== undefined) return { member: 'obo', problem: 'has a member other than hub, consumer, request and federation' };
  const obo = value as Record<string, unknown>;
  for (const name of ['hub', 'consumer'] as const) {
    const v = obo[name];
    if (v === undefined) return { member: `obo.${name}`, problem: 'is missing' };
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_OBO_ID_LENGTH || !OBO_ID.test(v)) return { member: `obo.${name}`, problem: `must be a kebab-case id of 1 to ${MAX_OBO_ID_LENGTH} characters` };
  }
  for (const name of ['request', 'federation'] as const) {
    const v = obo[name];
    if (v === undefined) return { member: `obo.${name}`, problem: 'is missing' };
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_OBO_REQUEST_ID_LENGTH || !OBO_REQUEST_ID.test(v)) {
      return { member: `obo.${name}`, problem: `must be 1 to ${MAX_OBO_REQUEST_ID_LENGTH} characters of A-Z a-z 0-9 . _ : -` };
    }
  }
  return undefined;
}

/** A private JWK as read from a key file: key members plus `kid` and `alg`. */
export type PrivateJwk = JsonWebKey & { kid?: string; alg?: string };

/** Takes the token out of an `Authorization: DatarunRequest <token>` header value; undefined when absent or another scheme. */
export function readRequestToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== REQUEST_AUTH_SCHEME.toLowerCase()) return undefined;
  const token = authorization.slice(space + 1).trim();
  return token.length > 0 ? token : undefined;
}

/**
 * Why an `Authorization` header value gives no request token, for the 401 (never echoing a token):
 * absent, another scheme (`Bearer`), the scheme without a token, or a bare token without a scheme.
 */
export function missingRequestTokenMessage(authorization: string | undefined): string {
  const value = (authorization ?? '').trim();
  const usage = `a request is signed as "Authorization: ${REQUEST_AUTH_SCHEME} <token>"`;
  if (value === '') return 'request token is missing';
  const space = value.search(/\s/);
  if (space < 0) return value.toLowerCase() === REQUEST_AUTH_SCHEME.toLowerCase() ? `request token is missing: the Authorization header names the ${REQUEST_AUTH_SCHEME} scheme but carries no token` : `request token is missing: the Authorization header has no scheme (${usage})`;
  const scheme = value.slice(0, space);
  const shown = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,39}$/.test(scheme) ? JSON.stringify(scheme) : 'not a scheme name';
  return `request token is missing: the Authorization header's scheme is ${shown}, but ${usage}`;
}

/** Options of `createRequestSigner`. */
export interface RequestSignerOptions {
  /** The consumer's id, the `iss` of every token. */
  readonly consumerId: string;
  /** The private JWK (with `kid` and `alg`, as in a key file). */
  readonly privateJwk: PrivateJwk;
  /** Overrides the JWK's `kid`. */
  readonly keyId?: string;
  /** The hub's id. @default DEFAULT_HUB_ID */
  readonly audience?: string;
  /** Token lifetime in seconds, at most 300. @default DEFAULT_REQUEST_LIFETIME_SEC */
  readonly lifetimeSec?: number;
}

/** Signs request tokens for one consumer with a private key imported once. */
export interface RequestSigner {
  /** The kid in every token's header. */
  readonly keyId: string;
  /** A compact JWS binding this exact body, purpose, case and operator. */
  sign(body: string | Uint8Array, context: RequestContext, now?: Date | number): string;
  /** The `Authorization` header value for this body. */
  authorization(body: string | Uint8Array, context: RequestContext, now?: Date | number): string;
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

/** Creates the signer a consumer's system uses for every call to the hub. */
export function createRequestSigner(options: RequestSignerOptions): RequestSigner {
  const { privateJwk } = options;
  if (typeof privateJwk?.d !== 'string') throw new InvalidKeyError('expected a private JWK (with "d")');
  const alg = algorithmOf(privateJwk);
  const keyId = options.keyId ?? privateJwk.kid;
  if (!keyId) throw new InvalidKeyError('expected a key id: the JWK has no "kid" and no keyId was given');
  const lifetimeSec = options.lifetimeSec ?? DEFAULT_REQUEST_LIFETIME_SEC;
  if (!(lifetimeSec > 0 && lifetimeSec <= MAX_REQUEST_LIFETIME_SEC)) throw new InvalidKeyError(`expected a token lifetime from 1 to ${MAX_REQUEST_LIFETIME_SEC} seconds, but got: ${lifetimeSec}`);
  let privateKey: KeyObject;
  try {
    const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...members } = privateJwk as PrivateJwk & { use?: string; key_ops?: unknown };
    privateKey = createPrivateKey({ key: members, format: 'jwk' });
  } catch (error) {
    throw new InvalidKeyError('the private JWK cannot be imported', { cause: error });
  }
  const header = { alg, kid: keyId, typ: REQUEST_TOKEN_TYPE };
  const audience = options.audience ?? DEFAULT_HUB_ID;
  const sign = (body: string | Uint8Array, context: RequestContext, now?: Date | number): string => {
    const { onBehalfOf } = context;
    if (onBehalfOf !== undefined) {
      const problem = oboProblem(onBehalfOf);
      if (problem) throw new SealInputError(`onBehalfOf cannot be signed: ${problem.member.replace(/^obo/, 'onBehalfOf')} ${problem.problem}`);
      if (onBehalfOf.hub === audience) throw new SealInputError('onBehalfOf cannot be signed: onBehalfOf.hub names the hub the request is for');
    }
    const iat = Math.floor(toMillis(now) / 1000);
    const claims: RequestClaims = {
      iss: options.consumerId,
      aud: audience,
      iat,
      exp: iat + lifetimeSec,
      jti: randomBytes(16).toString('base64url'),
      bh: sha256Base64url(body),
      purpose: context.purpose,
      case: context.caseNumber,
      operator: context.operator,
      ...(onBehalfOf ? { obo: { hub: onBehalfOf.hub, consumer: onBehalfOf.consumer, request: onBehalfOf.request, federation: onBehalfOf.federation } } : {}),
    };
    return signCompact(header, { ...claims }, alg, privateKey);
  };
  return { keyId, sign, authorization: (body, context, now) => `${REQUEST_AUTH_SCHEME} ${sign(body, context, now)}` };
}

/** Options of `createRequestVerifier`. */
export interface RequestVerifierOptions {
  readonly keyStore: KeyStore;
  readonly replayGuard: ReplayGuard;
  /** The `aud` this hub accepts. @default keyStore.hubId */
  readonly audience?: string;
  /** Leeway for consumers' clocks, in seconds. @default DEFAULT_CLOCK_SKEW_SEC (60) */
  readonly clockSkewSec?: number;
}

/** A request whose token verified: who sent it, with which key, and its claims. */
export interface VerifiedRequest {
  readonly consumer: string;
  /** The consumer's roles from the trust list (`consumer`, `consent-issuer`, `auditor`…). */
  readonly roles: readonly string[];
  readonly keyId: string;
  readonly claims: RequestClaims;
}

/** Verifies the signed token of each request to the hub. */
export interface RequestVerifier {
  /** The verified request, its id remembered by the replay guard; or throws UnauthenticatedError naming the failed check. */
  verify(token: string | undefined, body: string | Uint8Array, now?: Date | number): Promise<VerifiedRequest>;
  /**
   * Every check but the replay guard: shape, header, claims, time window, key, body hash and
   * signature. The request pipeline calls it, then its rate limit, then `remember`.
   */
  authenticate(token: string | undefined, body: string | Uint8Array, now?: Date | number): VerifiedRequest;
  /** Records the verified request's one-time id; throws UnauthenticatedError (REPLAYED) when it was seen, (REPLAY_STATE_RESET) when it was issued before the guard's memory begins, ReplayGuardUnavailableError when it cannot be checked. */
  remember(verified: VerifiedRequest): Promise<void>;
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'exp', 'jti', 'bh', 'purpose', 'case', 'operator'] as const;

const MESSAGES: Record<UnauthenticatedReason, string> = {
  MISSING: 'request token is missing',
  MALFORMED: 'request token is malformed',
  EXPIRED: 'request token has expired',
  NOT_YET_VALID: 'request token is not yet valid',
  LIFETIME_TOO_LONG: `request token lifetime exceeds ${MAX_REQUEST_LIFETIME_SEC} seconds`,
  BAD_SIGNATURE: 'signature verification failed',
  UNKNOWN_CONSUMER: 'unknown consumer',
  UNKNOWN_KEY: 'unknown signing key',
  REVOKED_KEY: 'signing key has been revoked',
  EXPIRED_KEY: 'signing key has expired',
  REPLAYED: 'request token has already been used',
  REPLAY_STATE_RESET: "request token was issued before the hub's replay protection was reset, so it cannot be checked for reuse: sign a fresh request",
  BODY_MISMATCH: 'request body does not match the signed body hash',
  WRONG_AUDIENCE: 'request token is not for this hub',
  BAD_ALGORITHM: 'request token algorithm is not allowed',
  FORBIDDEN_HEADER: 'request token header parameter is not allowed',
  MISSING_CLAIM: 'request token is missing a claim',
  NO_SESSION: 'console session is unknown, expired or signed out',
};

function fail(reason: UnauthenticatedReason, claim?: string): never {
  if (reason === 'MISSING_CLAIM') throw new UnauthenticatedError(reason, `request token is missing the "${claim}" claim`, claim);
  if (claim) throw new UnauthenticatedError(reason, `request token claim "${claim}" is malformed`, claim);
  throw new UnauthenticatedError(reason, MESSAGES[reason]);
}

function readClaims(payload: Record<string, unknown>): RequestClaims {
  for (const name of REQUIRED_CLAIMS) {
    const value = payload[name];
    if (value === undefined || value === null || value === '') fail('MISSING_CLAIM', name);
  }
  for (const name of ['iss', 'jti', 'purpose', 'case', 'operator'] as const) {
    const value = payload[name];
    if (typeof value !== 'string' || value.length > MAX_CLAIM_LENGTH) fail('MALFORMED', name);
  }
  for (const name of READ_CLAIMS) {
    const problem = claimTextProblem(payload[name] as string);
    if (problem) throw new UnauthenticatedError('MALFORMED', `request token claim "${name}" ${problem}`, name);
  }
  const { aud, iat, exp, bh } = payload;
  if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) fail('MALFORMED', 'aud');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('MALFORMED', 'iat');
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= iat) fail('MALFORMED', 'exp');
  if (typeof bh !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(bh)) fail('MALFORMED', 'bh');
  const { nbf } = payload;
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) fail('MALFORMED', 'nbf');
  if (payload.obo !== undefined) {
    const problem = oboProblem(payload.obo);
    if (problem) throw new UnauthenticatedError('MALFORMED', `request token claim "${problem.member}" ${problem.problem}`, problem.member);
  }
  return payload as unknown as RequestClaims;
}

/**
 * The checks every token a consumer signs with its request key shares (signed requests, console
 * sign-in tokens): a registered consumer, its live request key with the pinned algorithm, then
 * `beforeSignature` (the body hash of a request), then a low-S signature. Throws
 * UnauthenticatedError naming the failed check.
 */
export function checkConsumerSignature(
  keyStore: KeyStore,
  decoded: NonNullable<ReturnType<typeof decodeCompact>>,
  claims: { readonly iss: string; readonly iat: number },
  nowMs: number,
  beforeSignature: () => boolean = () => true,
): { consumer: string; roles: readonly string[]; keyId: string } {
  const consumer = keyStore.owner(claims.iss);
  if (!consumer || consumer.kind !== 'consumer') fail('UNKNOWN_CONSUMER');
  const key = keyStore.resolveKey(decoded.header.kid as string);
  if (!key || key.owner !== consumer.id || key.use !== 'request') fail('UNKNOWN_KEY');
  if (decoded.header.alg !== key.alg) fail('BAD_ALGORITHM');
  // A request key that is revoked now refuses everything, even a token backdated before the revocation.
  if (key.revokedAt !== undefined && (key.revokedAt <= nowMs || key.revokedAt <= claims.iat * 1000)) fail('REVOKED_KEY');
  if (key.validTo !== undefined && key.validTo <= nowMs) fail('EXPIRED_KEY');
  if (!beforeSignature()) fail('BODY_MISMATCH');
  const signature = checkSignature(key.alg, key.publicKey, decoded.signingInput, decoded.signature);
  if (signature === 'HIGH_S') throw new UnauthenticatedError('BAD_SIGNATURE', HIGH_S_MESSAGE);
  if (signature !== 'VALID') fail('BAD_SIGNATURE');
  return { consumer: consumer.id, roles: consumer.roles, keyId: key.kid };
}

/**
 * Creates the hub's request verifier. Checks run cheapest first — shape, header, claims, time
 * window, key lookup, body hash — then the signature, and only a request whose signature
 * verified may record its `jti` in the replay guard (an unsigned request cannot burn one).
 */
export function createRequestVerifier(options: RequestVerifierOptions): RequestVerifier {
  const { keyStore, replayGuard } = options;
  const audience = options.audience ?? keyStore.hubId;
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const authenticate = (token: string | undefined, body: string | Uint8Array, now?: Date | number): VerifiedRequest => {
    if (token === undefined || token === '') fail('MISSING');
    const decoded = typeof token === 'string' ? decodeCompact(token, MAX_TOKEN_LENGTH) : undefined;
    if (!decoded) fail('MALFORMED');
    const problem = checkHeader(decoded.header, REQUEST_TOKEN_TYPE);
    if (problem) fail(problem === 'WRONG_TYPE' ? 'MALFORMED' : problem);
    const claims = readClaims(decoded.payload);
    if (Array.isArray(claims.aud) ? !claims.aud.includes(audience) : claims.aud !== audience) fail('WRONG_AUDIENCE');
    // A hub never asks itself on someone's behalf (a loop between hubs, or a forged origin).
    if (claims.obo?.hub === audience) throw new UnauthenticatedError('MALFORMED', 'request token claim "obo.hub" names this hub: a request on behalf of another hub\'s consumer comes from that hub', 'obo.hub');
    if (claims.exp - claims.iat > MAX_REQUEST_LIFETIME_SEC) fail('LIFETIME_TOO_LONG');
    const nowMs = toMillis(now);
    const nowSec = nowMs / 1000;
    if (notYetValidProblem(claims, nowMs, skewSec)) fail('NOT_YET_VALID');
    if (claims.exp + skewSec <= nowSec) fail('EXPIRED');
    return { ...checkConsumerSignature(keyStore, decoded, claims, nowMs, () => sha256Base64url(body) === claims.bh), claims };
  };
  const remember = async (verified: VerifiedRequest): Promise<void> => {
    const { claims } = verified;
    // A token issued before the guard's memory begins may have been used already: refused, for
    // at most one token lifetime (older tokens have expired by then anyway).
    const since = replayGuard.knownSince ? await replayGuard.knownSince() : undefined;
    if (since !== undefined && claims.iat * 1000 < since) fail('REPLAY_STATE_RESET');
    // Remember the id for as long as the token could still be accepted (exp plus the skew).
    const fresh = await replayGuard.checkAndRemember(`${claims.iss}\u0000${claims.jti}`, (claims.exp + skewSec) * 1000);
    if (!fresh) fail('REPLAYED');
  };
  return {
    authenticate,
    remember,
    async verify(token, body, now) {
      const verified = authenticate(token, body, now);
      await remember(verified);
      return verified;
    },
  };
}
