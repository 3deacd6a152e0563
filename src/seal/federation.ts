import { createPublicKey } from 'node:crypto';
import { canonicalize } from './canonicalize';
import { InvalidKeyError, PeerStatementRefusedError } from './errors';
import { FEDERATION_ROOT_ALG, jwkThumbprint } from './federation-root';
import { sha256Base64url } from './hash';
import { importJwks, type Jwks } from './jwks';
import { checkHeader, checkSignature, decodeCompact, signCompact } from './jws';
import { federationRootKeyOf, type KeyStore } from './key-store';
import { publicJwkSchema, type PublicJwk } from './trust';
import { DEFAULT_CLOCK_SKEW_SEC, notYetValidProblem, toMillis, type TrustedKeys } from './trusted-keys';

/**
 * Trust between hubs (docs/federation.md): a hub's JWKS statement, signed by its federation
 * root key, and its verification against a root a peer's operator pinned out of band.
 */

/** `typ` of the JWKS statement a hub serves at `GET /.well-known/datarun-federation.jwt`. */
export const FEDERATION_JWKS_TOKEN_TYPE = 'datarun-federation-jwks+jwt';

/** Where a hub serves its signed JWKS statement, under its base URL. */
export const FEDERATION_STATEMENT_PATH = '/.well-known/datarun-federation.jwt';

/** Lifetime of a statement: one day; the hub signs a new one on demand. */
export const DEFAULT_FEDERATION_STATEMENT_LIFETIME_SEC = 86_400;

/** Longest lifetime a verifier accepts (`exp - iat`): a week. */
export const MAX_FEDERATION_STATEMENT_LIFETIME_SEC = 7 * 86_400;

/** Largest statement accepted, in characters. */
export const MAX_FEDERATION_STATEMENT_LENGTH = 1024 * 1024;

/** Why a peer's statement is refused. */
export type PeerStatementReason =
  | 'MALFORMED'
  | 'WRONG_TYPE'
  | 'BAD_ALGORITHM'
  | 'FORBIDDEN_HEADER'
  | 'WRONG_ROOT'
  | 'BAD_SIGNATURE'
  | 'WRONG_HUB'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'LIFETIME_TOO_LONG'
  | 'MALFORMED_JWKS'
  | 'FOREIGN_KEY'
  | 'ROLLBACK';

/** Fixed texts of the refusals, never quoting the statement. */
export const PEER_STATEMENT_MESSAGES: Readonly<Record<PeerStatementReason, string>> = {
  MALFORMED: 'the statement is not a compact JWS with the claims iss, iat, exp and jwks',
  WRONG_TYPE: `the statement is not of type ${FEDERATION_JWKS_TOKEN_TYPE}`,
  BAD_ALGORITHM: 'the statement is not signed with the algorithm of the pinned root key',
  FORBIDDEN_HEADER: 'the statement carries a header parameter that is not allowed (jwk, jku, x5c, crit…)',
  WRONG_ROOT: 'the statement names a root key other than the pinned one',
  BAD_SIGNATURE: 'the statement is not signed by the pinned root key',
  WRONG_HUB: 'the statement is issued by another hub than the peer',
  EXPIRED: 'the statement has expired',
  NOT_YET_VALID: 'the statement is issued in the future',
  LIFETIME_TOO_LONG: `the statement's lifetime exceeds ${MAX_FEDERATION_STATEMENT_LIFETIME_SEC} seconds`,
  MALFORMED_JWKS: 'the statement does not carry a usable JWKS',
  FOREIGN_KEY: "the statement's JWKS holds a key that is not the peer's own (another hub's key, or its root key)",
  ROLLBACK: 'the statement is older than one already accepted from this peer',
};

/** A root pinned for a peer: its public JWK, or the RFC 7638 thumbprint of it. */
export type PinnedRoot = PublicJwk | string;

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** The thumbprint a pinned root stands for; throws InvalidKeyError (naming the problem) for anything that is neither a public JWK nor a thumbprint. */
export function pinnedRootThumbprint(root: unknown): string {
  if (typeof root === 'string') {
    if (!THUMBPRINT.test(root)) throw new InvalidKeyError('expected a root key as a public JWK or its RFC 7638 SHA-256 thumbprint (43 base64url characters)');
    return root;
  }
  const parsed = publicJwkSchema.safeParse(root);
  if (!parsed.success) throw new InvalidKeyError('expected a root key as a public JWK (kty, crv, x[, y]; no private members) or its RFC 7638 SHA-256 thumbprint');
  try {
    createPublicKey({ key: { ...parsed.data }, format: 'jwk' });
  } catch (error) {
    throw new InvalidKeyError('the pinned root JWK is not a valid public key', { cause: error });
  }
  return jwkThumbprint(parsed.data);
}

/** The claims of a JWKS statement. */
export interface FederationStatementClaims {
  readonly iss: string;
  readonly iat: number;
  readonly exp: number;
  /** The root's public JWK, so that a verifier that pinned only the thumbprint can check the signature (bound by the thumbprint). */
  readonly root: PublicJwk;
  readonly jwks: Jwks;
}

/** Signs the hub's JWKS statements with its federation root key, one per JWKS content, re-signed past half its lifetime. */
export interface FederationStatementSigner {
  /** The statement of `jwks` (the JWKS the hub serves at /.well-known/jwks.json). */
  statement(jwks: Jwks, now?: Date | number): string;
}

/** Creates the signer of a hub's JWKS statements; throws NoSigningKeyError when the key store has no federation root key. */
export function createFederationStatementSigner(options: { readonly keyStore: KeyStore; readonly lifetimeSec?: number }): FederationStatementSigner {
  const root = federationRootKeyOf(options.keyStore);
  const hub = options.keyStore.hubId;
  const lifetimeSec = options.lifetimeSec ?? DEFAULT_FEDERATION_STATEMENT_LIFETIME_SEC;
  if (!Number.isInteger(lifetimeSec) || lifetimeSec < 60 || lifetimeSec > MAX_FEDERATION_STATEMENT_LIFETIME_SEC) {
    throw new InvalidKeyError(`lifetimeSec must be an integer from 60 to ${MAX_FEDERATION_STATEMENT_LIFETIME_SEC}, but got: ${String(lifetimeSec)}`);
  }
  let cached: { digest: string; iat: number; token: string } | undefined;
  return {
    statement(jwks, now) {
      const nowSec = Math.floor(toMillis(now) / 1000);
      const digest = sha256Base64url(canonicalize(jwks));
      if (cached && cached.digest === digest && nowSec >= cached.iat && nowSec < cached.iat + lifetimeSec / 2) return cached.token;
      const claims: FederationStatementClaims = { iss: hub, iat: nowSec, exp: nowSec + lifetimeSec, root: root.jwk, jwks };
      const token = signCompact({ alg: FEDERATION_ROOT_ALG, kid: root.kid, typ: FEDERATION_JWKS_TOKEN_TYPE }, { ...claims }, FEDERATION_ROOT_ALG, root.privateKey);
      cached = { digest, iat: nowSec, token };
      return token;
    },
  };
}

/** Options of `verifyPeerJwks`. */
export interface VerifyPeerJwksOptions {
  /** The peer's hub id: the statement's `iss` must be it. Unset: any `iss` (reported). */
  readonly hub?: string;
  /** The root pinned for the peer: its public JWK or its thumbprint. */
  readonly root: PinnedRoot;
  /** @default now */
  readonly now?: Date | number;
  /** Leeway for the peer's clock, in seconds. @default DEFAULT_CLOCK_SKEW_SEC (60) */
  readonly clockSkewSec?: number;
  /** Accept an expired statement (reported by `expired`): the keys a peer published then, e.g. to check a seal kept from that time. @default false */
  readonly allowExpired?: boolean;
}

/** A statement that verified: the peer's JWKS, imported to verify its seals, receipts and checkpoints. */
export interface PeerJwksVerified {
  readonly valid: true;
  readonly hub: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** Past its `exp` (accepted only with `allowExpired`). */
  readonly expired: boolean;
  /** The root's thumbprint. */
  readonly root: string;
  readonly jwks: Jwks;
  readonly keys: TrustedKeys;
}

/** A statement that was refused. */
export interface PeerJwksRejected {
  readonly valid: false;
  readonly reason: PeerStatementReason;
  readonly message: string;
}

const refuse = (reason: PeerStatementReason): PeerJwksRejected => ({ valid: false, reason, message: PEER_STATEMENT_MESSAGES[reason] });

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

/** Checks a JWKS of a statement: a keys array of objects, no private members, and only the peer's own keys (none of another hub, not the root). */
function jwksProblem(jwks: unknown, hub: string, rootThumbprint: string): PeerStatementReason | undefined {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (jwks === null || typeof jwks !== 'object' || Array.isArray(jwks) || !Array.isArray(keys)) return 'MALFORMED_JWKS';
  for (const key of keys as unknown[]) {
    if (key === null || typeof key !== 'object' || Array.isArray(key)) return 'MALFORMED_JWKS';
    if (PRIVATE_MEMBERS.some((m) => m in key)) return 'MALFORMED_JWKS';
    const { kty, crv, x, y, datarun } = key as Record<string, unknown>;
    const jwk = publicJwkSchema.safeParse(kty === 'OKP' ? { kty, crv, x } : { kty, crv, x, y });
    if (jwk.success && jwkThumbprint(jwk.data) === rootThumbprint) return 'FOREIGN_KEY';
    const trust = datarun as { ownerKind?: unknown; owner?: unknown } | undefined;
    if (trust && typeof trust === 'object' && trust.ownerKind === 'hub' && trust.owner !== hub) return 'FOREIGN_KEY';
  }
  return undefined;
}

/**
 * Verifies a peer's JWKS statement against the root pinned for it: the header (the statement's
 * `typ`, the root's algorithm, no embedded or remote key), the root named by `kid` and carried
 * in `root` (both the pinned thumbprint), the signature with that key, `iss` (the peer), `iat`,
 * `exp` (at most a week after `iat`) and the JWKS (only the peer's own keys). Never throws for
 * a bad statement; throws InvalidKeyError for a pinned root that is neither a JWK nor a thumbprint.
 */
export function verifyPeerJwks(statement: string, options: VerifyPeerJwksOptions): PeerJwksVerified | PeerJwksRejected {
  const pinned = pinnedRootThumbprint(options.root);
  if (typeof statement !== 'string') return refuse('MALFORMED');
  const decoded = decodeCompact(statement.trim(), MAX_FEDERATION_STATEMENT_LENGTH);
  if (!decoded) return refuse('MALFORMED');
  const header = checkHeader(decoded.header, FEDERATION_JWKS_TOKEN_TYPE);
  if (header) return refuse(header);
  if (decoded.header.alg !== FEDERATION_ROOT_ALG) return refuse('BAD_ALGORITHM');
  if (decoded.header.kid !== pinned) return refuse('WRONG_ROOT');
  const rootJwk = publicJwkSchema.safeParse(decoded.payload.root);
  if (!rootJwk.success || jwkThumbprint(rootJwk.data) !== pinned) return refuse('WRONG_ROOT');
  if (rootJwk.data.kty !== 'OKP') return refuse('BAD_ALGORITHM');
  let publicKey;
  try {
    publicKey = createPublicKey({ key: { ...rootJwk.data }, format: 'jwk' });
  } catch {
    return refuse('WRONG_ROOT');
  }
  if (checkSignature(FEDERATION_ROOT_ALG, publicKey, decoded.signingInput, decoded.signature) !== 'VALID') return refuse('BAD_SIGNATURE');
  // Signed by the pinned root from here on: the claims can be read.
  const { iss, iat, exp, nbf, jwks } = decoded.payload;
  if (typeof iss !== 'string' || iss.length === 0 || typeof iat !== 'number' || !Number.isFinite(iat) || typeof exp !== 'number' || !Number.isFinite(exp) || exp <= iat) return refuse('MALFORMED');
  if (options.hub !== undefined && iss !== options.hub) return refuse('WRONG_HUB');
  if (exp - iat > MAX_FEDERATION_STATEMENT_LIFETIME_SEC) return refuse('LIFETIME_TOO_LONG');
  const nowMs = toMillis(options.now);
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const notYet = notYetValidProblem({ iat, nbf }, nowMs, skewSec);
  if (notYet) return refuse(notYet);
  const expired = exp * 1000 + skewSec * 1000 <= nowMs;
  if (expired && options.allowExpired !== true) return refuse('EXPIRED');
  const problem = jwksProblem(jwks, iss, pinned);
  if (problem) return refuse(problem);
  let keys: TrustedKeys;
  try {
    keys = importJwks(jwks);
  } catch {
    return refuse('MALFORMED_JWKS');
  }
  return { valid: true, hub: iss, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000), expired, root: pinned, jwks: jwks as Jwks, keys };
}

/** `verifyPeerJwks`, throwing a PeerStatementRefusedError (with its `reason`) for a refused statement. */
export function requirePeerJwks(statement: string, options: VerifyPeerJwksOptions): PeerJwksVerified {
  const result = verifyPeerJwks(statement, options);
  if (!result.valid) throw new PeerStatementRefusedError(result.reason, `${options.hub ?? 'peer'}: ${result.message}`);
  return result;
}
