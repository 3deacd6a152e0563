/**
 * The Status List Token (draft-ietf-oauth-status-list, JWT form): header `typ: statuslist+jwt`,
 * `alg`, `kid`; claims `sub` (the list's URI, the `uri` referenced tokens carry), `iat`, `exp`,
 * `ttl` and `status_list: { bits, lst }`, plus the hub's `iss`. Signed and verified by src/seal
 * (the hub's statement signer, its checkpoint key); the status-list checks are here.
 */
import { DEFAULT_CLOCK_SKEW_SEC, createHubStatementSigner, verifyHubStatement, type HubStatementSigner, type KeyStore, type VerificationFailureReason, type VerificationKeys } from '../seal';
import { ProofsError, ProofsErrorCode } from './errors';
import { compressStatusBytes, decodeStatusList, packStatuses, readStatus, checkStatusBits, type StatusBits } from './status-list';

/** The `typ` of a Status List Token in JWT form. */
export const STATUS_LIST_TOKEN_TYPE = 'statuslist+jwt';

/** How long a token is valid after it is issued, unless told: one day. */
export const DEFAULT_STATUS_LIST_LIFETIME_SEC = 24 * 60 * 60;

/** The `status` claim a referenced token (a proof) carries to point at its entry. */
export interface StatusReference {
  readonly status_list: { readonly idx: number; readonly uri: string };
}

/** The `status` claim for entry `idx` of the list at `uri`. */
export function statusReference(uri: string, idx: number): StatusReference {
  if (!Number.isSafeInteger(idx) || idx < 0) throw new ProofsError(ProofsErrorCode.STATUS_INDEX_OUT_OF_RANGE, 'a status reference needs a non-negative integer idx');
  return { status_list: { idx, uri: checkUri(uri) } };
}

/** Signs Status List Tokens: the claims given become the payload (`iss` and `iat` set by the signer). */
export type StatusListSigner = Pick<HubStatementSigner, 'sign'>;

/** The signer of the hub's Status List Tokens, with its checkpoint key from `keyStore`. */
export function createStatusListSigner(options: { readonly keyStore: KeyStore }): StatusListSigner {
  return createHubStatementSigner({ keyStore: options.keyStore, typ: STATUS_LIST_TOKEN_TYPE });
}

function checkUri(uri: unknown): string {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2048 || !URL.canParse(uri)) {
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_TOKEN_INVALID, 'a status list uri must be an absolute URI of at most 2048 characters');
  }
  return uri;
}

function checkSeconds(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new ProofsError(ProofsErrorCode.STATUS_LIST_TOKEN_INVALID, `${what} must be a positive whole number of seconds`);
  return value;
}

/** What `signStatusListToken` signs. */
export interface StatusListTokenInput {
  /** The list's URI: the token's `sub`, the `uri` of the references into it. */
  readonly uri: string;
  readonly bits: StatusBits;
  /** One status per entry (a number array or the list's uncompressed bytes with `packed: true`). */
  readonly statuses: ArrayLike<number>;
  /** `statuses` are already the list's bytes (what the allocator's snapshot holds). @default false */
  readonly packed?: boolean;
  /** How long a relying party may cache the token before fetching it again (`ttl`). */
  readonly ttlSeconds: number;
  /** How long the token is valid (`exp - iat`), at least `ttlSeconds`. @default DEFAULT_STATUS_LIST_LIFETIME_SEC, or ttlSeconds when longer */
  readonly lifetimeSeconds?: number;
  /** The instant of `iat`. @default now */
  readonly now?: Date | number;
  readonly sign: StatusListSigner;
}

/** Signs a Status List Token; refused with STATUS_LIST_TOKEN_INVALID (or the list's own codes) for bad input. */
export function signStatusListToken(input: StatusListTokenInput): string {
  const uri = checkUri(input.uri);
  const bits = checkStatusBits(input.bits);
  const ttl = checkSeconds('ttlSeconds', input.ttlSeconds);
  const lifetime = input.lifetimeSeconds === undefined ? Math.max(DEFAULT_STATUS_LIST_LIFETIME_SEC, ttl) : checkSeconds('lifetimeSeconds', input.lifetimeSeconds);
  if (lifetime < ttl) throw new ProofsError(ProofsErrorCode.STATUS_LIST_TOKEN_INVALID, 'lifetimeSeconds must be at least ttlSeconds');
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  if (!Number.isFinite(nowMs)) throw new ProofsError(ProofsErrorCode.STATUS_LIST_TOKEN_INVALID, 'now must be a valid time');
  const bytes = input.packed ? Uint8Array.from(input.statuses) : packStatuses(input.statuses, bits);
  const iat = Math.floor(nowMs / 1000);
  return input.sign.sign({ sub: uri, exp: iat + lifetime, ttl, status_list: { bits, lst: compressStatusBytes(bytes) } }, nowMs);
}

/** Why a Status List Token is refused: the seal module's reasons, and the list's own. */
export type StatusListRejectReason = VerificationFailureReason | 'EXPIRED' | 'WRONG_SUBJECT' | 'BAD_STATUS_LIST';

const OWN_MESSAGES = {
  EXPIRED: 'status list token has expired',
  WRONG_SUBJECT: 'status list token is not for the expected list (sub differs from its uri)',
  BAD_STATUS_LIST: 'status list token has no valid status_list, exp or ttl',
} as const;

/** A Status List Token that verified: read it with `statusAt`. */
export interface VerifiedStatusList {
  readonly valid: true;
  readonly uri: string;
  readonly bits: StatusBits;
  /** The uncompressed list. */
  readonly bytes: Uint8Array;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly ttlSeconds: number | undefined;
  readonly keyId: string;
}

/** A refused Status List Token. */
export interface RejectedStatusList {
  readonly valid: false;
  readonly reason: StatusListRejectReason;
  readonly message: string;
}

/** Options of `verifyStatusListToken`. */
export interface VerifyStatusListOptions {
  /** The hub's keys: its key store, or its published JWKS. */
  readonly keys: VerificationKeys;
  /** The `uri` of the reference being checked: the token's `sub` must be exactly this. */
  readonly expectedUri: string;
  /** @default now */
  readonly now?: Date | number;
  /** @default DEFAULT_CLOCK_SKEW_SEC (60) */
  readonly clockSkewSec?: number;
  /** The most bytes the list may inflate to. @default DEFAULT_MAX_STATUS_LIST_BYTES */
  readonly maxBytes?: number;
}

/**
 * Verifies a Status List Token: the hub's signature and key (every check of src/seal's
 * verifier: `typ` `statuslist+jwt`, algorithm, key, signature, `iat`), then `exp` (required;
 * past it, with the clock skew, `EXPIRED`), `sub` equal to `expectedUri` (`WRONG_SUBJECT`) and a
 * decodable `status_list` (`BAD_STATUS_LIST`). Never throws for a bad token.
 */
export function verifyStatusListToken(token: string, options: VerifyStatusListOptions): VerifiedStatusList | RejectedStatusList {
  const reject = (reason: keyof typeof OWN_MESSAGES): RejectedStatusList => ({ valid: false, reason, message: OWN_MESSAGES[reason] });
  const verified = verifyHubStatement(token, STATUS_LIST_TOKEN_TYPE, { ...options.keys, ...(options.now !== undefined ? { now: options.now } : {}), ...(options.clockSkewSec !== undefined ? { clockSkewSec: options.clockSkewSec } : {}) });
  if (!verified.valid) return { valid: false, reason: verified.reason, message: verified.message };
  const { sub, exp, ttl, status_list: list } = verified.claims as { sub?: unknown; exp?: unknown; ttl?: unknown; status_list?: unknown };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return reject('BAD_STATUS_LIST');
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0)) return reject('BAD_STATUS_LIST');
  const nowMs = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  if (exp * 1000 <= nowMs - (options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC) * 1000) return reject('EXPIRED');
  if (sub !== options.expectedUri) return reject('WRONG_SUBJECT');
  let decoded: ReturnType<typeof decodeStatusList>;
  try {
    decoded = decodeStatusList((list ?? {}) as { bits: unknown; lst: unknown }, options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {});
  } catch {
    return reject('BAD_STATUS_LIST');
  }
  return {
    valid: true,
    uri: sub,
    bits: decoded.bits,
    bytes: decoded.bytes,
    issuedAt: verified.issuedAt,
    expiresAt: new Date(exp * 1000),
    ttlSeconds: ttl as number | undefined,
    keyId: verified.keyId,
  };
}

/** The status of entry `idx` of a verified list (STATUS_INDEX_OUT_OF_RANGE past its end; STATUS_LIST_TOKEN_INVALID for a token that did not verify). */
export function statusAt(list: VerifiedStatusList | RejectedStatusList, idx: number): number {
  if (!list || list.valid !== true) throw new ProofsError(ProofsErrorCode.STATUS_LIST_TOKEN_INVALID, 'a status list token that did not verify has no statuses to read');
  return readStatus(list.bytes, list.bits, idx);
}
