/**
 * Verifying a presented proof (docs/proofs.md, "Verifying"): the department's signature, the
 * disclosures against `_sd`, the holder's Key Binding JWT, the validity window and the proof's
 * entry in the hub's status list. Never throws: each refusal has its reason code.
 */
import { DEFAULT_CLOCK_SKEW_SEC, SD_ALG, decodeDisclosure, readPublicJwk, sdHashOf, verifyDepartmentStatement, verifyHolderJwt, type VerificationFailureReason, type VerificationKeys } from '../seal';
import { STATUS } from './status-list';
import { statusAt, verifyStatusListToken } from './token';
import { KEY_BINDING_TOKEN_TYPE, PROOF_CLEAR_CLAIMS, PROOF_TOKEN_TYPE } from './vc';

/** Why a proof is refused. The seal module's key checks (`WRONG_KEY_USE`, `REVOKED_KEY`…) pass through as they are. */
export type ProofRejectReason =
  | 'MALFORMED'
  | 'BAD_SIGNATURE'
  | 'WRONG_TYPE'
  | 'TAMPERED_DISCLOSURE'
  | 'WRONG_HOLDER_KEY'
  | 'MISSING_KEY_BINDING'
  | 'WRONG_NONCE'
  | 'WRONG_AUDIENCE'
  | 'SD_HASH_MISMATCH'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'REVOKED'
  | 'STATUS_UNAVAILABLE'
  | 'UNKNOWN_KEY'
  | VerificationFailureReason;

/** The status of a verified proof: `UNCHECKED` when the proof has no status entry or the verifier was given no status list. */
export type ProofStatus = 'VALID' | 'INVALID' | 'SUSPENDED' | 'UNCHECKED';

/** A proof that verified. */
export interface ProofVerified {
  readonly valid: true;
  readonly kind: string;
  readonly vct: string;
  /** The issuing department (the `iss`, its trust-list id). */
  readonly department: string;
  readonly keyId: string;
  readonly purpose: string;
  readonly asOf: Date;
  readonly subjectKind: string;
  /** The `sub`, when the proof has one. */
  readonly subject: string | undefined;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** The claims the holder disclosed. */
  readonly disclosed: Record<string, unknown>;
  /** The proof is bound to a holder key and the Key Binding JWT verified. */
  readonly holderBound: boolean;
  /** `SUSPENDED`: the proof is valid but suspended by its department; a relying party must not rely on it while suspended. */
  readonly status: Exclude<ProofStatus, 'INVALID'>;
  /** The KB-JWT's `iat`, when there is one. */
  readonly presentedAt: Date | undefined;
  /**
   * Only with `allowMissingKeyBinding`: the proof is bound to a holder key and came without its
   * KB-JWT, so only the issuer's part verified; whoever showed it has not proven to be the holder.
   */
  readonly keyBindingMissing?: true;
}

/** A refused proof: its reason code and a text naming the check. */
export interface ProofRejected {
  readonly valid: false;
  readonly reason: ProofRejectReason;
  readonly detail: string;
}

/** The outcome of `verifyProof`. */
export type ProofVerification = ProofVerified | ProofRejected;

/** Status List Tokens by the list's URI: a fetcher, or tokens fetched beforehand. */
export type StatusListSource = ((uri: string) => Promise<string> | string) | Readonly<Record<string, string>>;

/** Options of `verifyProof`. */
export interface VerifyProofOptions {
  /** The public keys: the hub's key store, or its JWKS (`/.well-known/jwks.json`, departments' seal keys and the hub's checkpoint key). */
  readonly keys: VerificationKeys;
  /** The nonce this verifier gave the holder: the KB-JWT's `nonce` must equal it. Without it any nonce passes (a replayed presentation too). */
  readonly expectedNonce?: string;
  /** This verifier's id: the KB-JWT's `aud` must equal it. */
  readonly expectedAudience?: string;
  /** @default now */
  readonly now?: Date | number;
  /** @default DEFAULT_CLOCK_SKEW_SEC (60) */
  readonly clockSkewSec?: number;
  /** How old a KB-JWT may be, in seconds. @default 300 */
  readonly maxKeyBindingAgeSec?: number;
  /** Where the Status List Tokens come from; absent, the status is `UNCHECKED`. */
  readonly statusList?: StatusListSource;
  /** Refuse (STATUS_UNAVAILABLE) a proof whose status cannot be checked, or that has no status entry. @default false */
  readonly requireStatus?: boolean;
  /** The keys of the Status List Tokens. @default keys */
  readonly statusKeys?: VerificationKeys;
  /** Longest wait for a Status List Token, in ms. @default 10000 */
  readonly statusTimeoutMs?: number;
  /** Refuse an unbound proof (MISSING_KEY_BINDING). @default false: a bound proof always needs its KB-JWT */
  readonly requireHolderBinding?: boolean;
  /**
   * Verify a bound proof presented without its KB-JWT as far as it goes (issuer, disclosures,
   * status) and answer it with `keyBindingMissing: true` instead of MISSING_KEY_BINDING: for a page
   * that shows what a proof says, never for accepting it. @default false
   */
  readonly allowMissingKeyBinding?: boolean;
}

const reject = (reason: ProofRejectReason, detail: string): ProofRejected => ({ valid: false, reason, detail });
const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** The Status List Token of `uri`, or the text of why there is none. */
async function fetchStatusToken(source: StatusListSource, uri: string, timeoutMs: number): Promise<{ token: string } | { problem: string }> {
  if (typeof source !== 'function') {
    const token = Object.prototype.hasOwnProperty.call(source, uri) ? source[uri] : undefined;
    return typeof token === 'string' ? { token } : { problem: 'no status list token was given for it' };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const token = await Promise.race([
      Promise.resolve().then(() => source(uri)),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
    return typeof token === 'string' ? { token } : { problem: token === undefined ? `no answer within ${timeoutMs} ms` : 'the status list source gave no token' };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : 'the status list source failed' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Verifies a presented proof `<jwt>~<d>~…~[<kb-jwt>]`, in this order: the issuer JWT (`typ`
 * `dc+sd-jwt`, a department's seal key by `kid`, signature, `iat`/`nbf`), its claims (`exp`,
 * `_sd_alg`, kind, purpose, asOf, subject kind, holder binding), each disclosure against `_sd`,
 * the Key Binding JWT when the proof is bound (signed by `cnf.jwk`, `sd_hash`, `nonce`, `aud`,
 * `iat`), then the status list entry. Never throws.
 */
export async function verifyProof(presentation: string, options: VerifyProofOptions): Promise<ProofVerification> {
  try {
    return await verifyUnsafe(presentation, options);
  } catch (error) {
    return reject('MALFORMED', `the proof could not be read (${error instanceof Error ? error.message : 'unknown error'})`);
  }
}

async function verifyUnsafe(presentation: string, options: VerifyProofOptions): Promise<ProofVerification> {
  if (typeof presentation !== 'string' || presentation.length > 4 * 1024 * 1024) return reject('MALFORMED', 'a presentation must be a string of at most 4 MiB');
  const parts = presentation.split('~');
  if (parts.length < 2) return reject('MALFORMED', 'a presentation is <issuer JWT>~<disclosure>~…~[<key binding JWT>]: no "~" found');
  const nowMs = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;

  const issuer = verifyDepartmentStatement(parts[0]!, PROOF_TOKEN_TYPE, { ...options.keys, now: nowMs, clockSkewSec: skewSec });
  if (!issuer.valid) return reject(issuer.reason, `issuer JWT: ${issuer.message}`);
  const claims = issuer.claims;
  const { exp, vct, kind, purpose, asOf, subjectKind, holderBinding, sub } = claims;
  if (!isNumericDate(exp)) return reject('MALFORMED', 'the proof has no numeric exp');
  if (claims._sd_alg !== SD_ALG) return reject('MALFORMED', `the proof's _sd_alg must be ${SD_ALG}`);
  const sd = claims._sd ?? [];
  if (!Array.isArray(sd) || !sd.every((d) => typeof d === 'string') || new Set(sd).size !== sd.length) return reject('MALFORMED', 'the proof\'s _sd must be an array of distinct digests');
  if (!isText(vct) || !isText(kind) || !isText(purpose) || !isNumericDate(asOf) || !isText(subjectKind)) return reject('MALFORMED', 'the proof lacks one of vct, kind, purpose, asOf, subjectKind');
  if (sub !== undefined && !isText(sub)) return reject('MALFORMED', 'the proof\'s sub must be a string');
  const boundJwk = claims.cnf === undefined ? undefined : readPublicJwk((claims.cnf as { jwk?: unknown } | null)?.jwk);
  if (claims.cnf !== undefined && !boundJwk) return reject('MALFORMED', 'the proof\'s cnf has no usable public jwk');
  if (holderBinding !== (boundJwk ? 'cnf' : 'none')) return reject('MALFORMED', 'the proof\'s holderBinding does not match its cnf');
  if (exp * 1000 <= nowMs - skewSec * 1000) return reject('EXPIRED', `the proof expired at ${new Date(exp * 1000).toISOString()}`);

  // Disclosures: each must be signed (its digest in _sd), once.
  const signed = new Set(sd as string[]);
  const disclosed: Record<string, unknown> = {};
  const seen = new Set<string>();
  const disclosures = parts.slice(1, -1);
  for (const [i, encoded] of disclosures.entries()) {
    const decoded = decodeDisclosure(encoded);
    if (!decoded) return reject('MALFORMED', `disclosure ${i + 1} is not a base64url JSON [salt, name, value]`);
    if (!signed.has(decoded.digest)) return reject('TAMPERED_DISCLOSURE', `disclosure ${i + 1} ("${decoded.name}") is not covered by the proof's _sd digests`);
    if (seen.has(decoded.digest) || Object.prototype.hasOwnProperty.call(disclosed, decoded.name)) return reject('TAMPERED_DISCLOSURE', `disclosure ${i + 1} ("${decoded.name}") appears twice`);
    if (PROOF_CLEAR_CLAIMS.has(decoded.name) || Object.prototype.hasOwnProperty.call(claims, decoded.name)) return reject('TAMPERED_DISCLOSURE', `disclosure ${i + 1} would overwrite the signed claim "${decoded.name}"`);
    seen.add(decoded.digest);
    Object.defineProperty(disclosed, decoded.name, { value: decoded.value, enumerable: true, writable: true, configurable: true });
  }

  // Key binding.
  const kb = parts[parts.length - 1]!;
  let presentedAt: Date | undefined;
  if (kb === '') {
    if (boundJwk && !options.allowMissingKeyBinding) return reject('MISSING_KEY_BINDING', 'the proof is bound to a holder key and was presented without a key binding JWT');
    if (!boundJwk && options.requireHolderBinding) return reject('MISSING_KEY_BINDING', 'this verifier requires a holder-bound proof; the proof is unbound (holderBinding none)');
  } else {
    if (!boundJwk) return reject('MALFORMED', 'a key binding JWT was presented with a proof bound to no holder key');
    const verified = verifyHolderJwt(kb, KEY_BINDING_TOKEN_TYPE, boundJwk);
    if (!verified.ok) {
      if (verified.reason === 'BAD_SIGNATURE' || verified.reason === 'BAD_ALGORITHM') return reject('WRONG_HOLDER_KEY', 'the key binding JWT is not signed by the key in the proof\'s cnf');
      return reject('MALFORMED', `the key binding JWT is refused (${verified.reason})`);
    }
    const { iat, aud, nonce, sd_hash: sdHash } = verified.payload;
    if (!isNumericDate(iat) || !isText(aud) || !isText(nonce) || !isText(sdHash)) return reject('MALFORMED', 'the key binding JWT lacks one of iat, aud, nonce, sd_hash');
    if (sdHash !== sdHashOf(presentation.slice(0, presentation.length - kb.length))) return reject('SD_HASH_MISMATCH', 'the key binding JWT\'s sd_hash is not the hash of this presentation');
    if (options.expectedNonce !== undefined && nonce !== options.expectedNonce) return reject('WRONG_NONCE', 'the key binding JWT\'s nonce is not the one this verifier gave');
    if (options.expectedAudience !== undefined && aud !== options.expectedAudience) return reject('WRONG_AUDIENCE', 'the key binding JWT is for another verifier (aud)');
    if (iat * 1000 > nowMs + skewSec * 1000) return reject('NOT_YET_VALID', 'the key binding JWT is issued in the future');
    const maxAge = options.maxKeyBindingAgeSec ?? 300;
    if (iat * 1000 < nowMs - (maxAge + skewSec) * 1000) return reject('EXPIRED', `the key binding JWT is older than ${maxAge} s`);
    presentedAt = new Date(iat * 1000);
  }

  // Status.
  const checked = await checkStatusEntry(claims.status, options, nowMs, skewSec);
  if (!checked.ok) return reject(checked.reason, checked.detail);
  const status = checked.status;

  return {
    valid: true,
    kind,
    vct,
    department: issuer.issuer,
    keyId: issuer.keyId,
    purpose,
    asOf: new Date(asOf * 1000),
    subjectKind,
    subject: sub as string | undefined,
    issuedAt: issuer.issuedAt,
    expiresAt: new Date(exp * 1000),
    disclosed,
    holderBound: boundJwk !== undefined && kb !== '',
    status,
    presentedAt,
    ...(boundJwk !== undefined && kb === '' ? { keyBindingMissing: true as const } : {}),
  };
}

/** What the status entry of a token says: its status, or why the token is refused. */
export type StatusCheck = { readonly ok: true; readonly status: ProofVerified['status'] } | { readonly ok: false; readonly reason: 'MALFORMED' | 'REVOKED' | 'STATUS_UNAVAILABLE'; readonly detail: string };

/**
 * Checks a token's `status` claim (`{ status_list: { idx, uri } }`, or absent) against its Status
 * List Token from `options.statusList`: REVOKED for INVALID, STATUS_UNAVAILABLE when the list
 * cannot be fetched or verified or lacks the entry, `UNCHECKED` when no list source is given
 * (unless `requireStatus`). Shared by proofs and bundle envelopes.
 */
export async function checkStatusEntry(claim: unknown, options: VerifyProofOptions, nowMs: number, skewSec: number): Promise<StatusCheck> {
  const fail = (reason: 'MALFORMED' | 'REVOKED' | 'STATUS_UNAVAILABLE', detail: string): StatusCheck => ({ ok: false, reason, detail });
  const reference = (claim as { status_list?: { idx?: unknown; uri?: unknown } } | undefined)?.status_list;
  if (claim !== undefined && (!reference || !Number.isSafeInteger(reference.idx) || (reference.idx as number) < 0 || !isText(reference.uri))) {
    return fail('MALFORMED', 'the status must be { status_list: { idx, uri } }');
  }
  if (reference && options.statusList !== undefined) {
    const uri = reference.uri as string;
    const fetched = await fetchStatusToken(options.statusList, uri, options.statusTimeoutMs ?? 10_000);
    if ('problem' in fetched) return fail('STATUS_UNAVAILABLE', `the status list ${uri} could not be fetched: ${fetched.problem}`);
    const list = verifyStatusListToken(fetched.token, { keys: options.statusKeys ?? options.keys, expectedUri: uri, now: nowMs, clockSkewSec: skewSec });
    if (!list.valid) return fail('STATUS_UNAVAILABLE', `the status list token of ${uri} is refused (${list.reason}: ${list.message})`);
    let value: number;
    try {
      value = statusAt(list, reference.idx as number);
    } catch {
      return fail('STATUS_UNAVAILABLE', `the status list ${uri} has no entry ${String(reference.idx)}`);
    }
    if (value === STATUS.INVALID) return fail('REVOKED', `revoked (status list ${uri}, entry ${String(reference.idx)})`);
    if (value === STATUS.VALID) return { ok: true, status: 'VALID' };
    if (value === STATUS.SUSPENDED) return { ok: true, status: 'SUSPENDED' };
    return fail('STATUS_UNAVAILABLE', `the status list ${uri} holds an unknown status ${value} at entry ${String(reference.idx)}`);
  }
  if (options.requireStatus) {
    return fail('STATUS_UNAVAILABLE', reference ? 'this verifier requires the status to be checked and was given no status list' : 'this verifier requires a status entry; there is none');
  }
  return { ok: true, status: 'UNCHECKED' };
}
