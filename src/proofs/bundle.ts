/**
 * Proof bundles (e.g. ENTERPRISE_GOOD_STANDING): the departments' own proofs under an envelope
 * the hub signs, binding subject, purpose, time and the SHA-256 of each part's issuer JWT, so a
 * part cannot be swapped, dropped or reordered. Format: docs/proofs.md, "The bundle envelope".
 */
import { DEFAULT_CLOCK_SKEW_SEC, createHubStatementSigner, sha256Base64url, verifyHubStatement, type KeyStore } from '../seal';
import { ProofsError, ProofsErrorCode } from './errors';
import { checkStatusEntry, verifyProof, type ProofRejectReason, type ProofVerified, type VerifyProofOptions } from './verify-vc';
import { MAX_PURPOSE_LENGTH } from './vc';

/** The `typ` of a bundle envelope, a hub statement. */
export const PROOF_BUNDLE_TOKEN_TYPE = 'datarun-proof-bundle+jwt';

/** Most parts in a bundle. */
export const MAX_BUNDLE_PARTS = 16;

/**
 * Between the envelope and the parts in a bundle's one-string form, `<envelope>,<part>,<part>…`:
 * a character neither a JWT nor an SD-JWT presentation contains.
 */
export const PROOF_BUNDLE_SEPARATOR = ',';

/** What `issueProofBundle` signs. */
export interface IssueProofBundleInput {
  /** The hub's key store: its checkpoint key signs the envelope (src/seal hub statements). */
  readonly keyStore: KeyStore;
  /** The bundle kind, e.g. `ENTERPRISE_GOOD_STANDING`. */
  readonly kind: string;
  /** Who the bundle is about (`sub`), e.g. the enterprise's pseudonymous reference or its unified social credit code. */
  readonly subject: string;
  /** Why it is issued (事由): every part must carry the same purpose. */
  readonly purpose: string;
  /** The issued proofs (`IssuedProof.token`, or any presentation of them), in order. */
  readonly parts: readonly string[];
  /** How long the envelope is valid from `now`; exactly one of `validitySeconds` and `expiresAt`. Never beyond a part's own `exp`. */
  readonly validitySeconds?: number;
  readonly expiresAt?: Date | number;
  /** The envelope's own entry in a status list (the `status` claim): the whole bundle can be revoked. */
  readonly status?: { readonly idx: number; readonly uri: string };
  /** @default now */
  readonly now?: Date | number;
}

/** A part as the envelope names it. */
export interface BundlePartClaim {
  /** base64url(SHA-256(ASCII of the part's issuer JWT)). */
  readonly digest: string;
  readonly iss: string;
  readonly kind: string;
}

/** An issued bundle envelope. */
export interface IssuedProofBundle {
  readonly envelope: string;
  readonly parts: readonly BundlePartClaim[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

const invalid = (message: string): ProofsError => new ProofsError(ProofsErrorCode.PROOF_INPUT_INVALID, message);

/** The unverified claims of a part's issuer JWT. */
function partClaims(part: string, i: number): { jwt: string; claims: Record<string, unknown> } {
  const jwt = typeof part === 'string' ? part.split('~')[0]! : '';
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    if (claims !== null && typeof claims === 'object' && !Array.isArray(claims)) return { jwt, claims: claims as Record<string, unknown> };
  } catch {
    // refused below
  }
  throw invalid(`part ${i + 1} is not a proof token`);
}

/**
 * Signs a bundle envelope over `parts` (each an issued proof of a department): `iss` (the hub),
 * `iat`, `exp`, `kind`, `sub`, `purpose` and `parts: [{ digest, iss, kind }]` in order. Refused
 * with PROOF_INPUT_INVALID: no parts, a part that is not a proof, a part of another purpose, or
 * an envelope outliving a part. The parts themselves are verified by whoever checks the bundle.
 */
export function issueProofBundle(input: IssueProofBundleInput): IssuedProofBundle {
  if (typeof input.kind !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(input.kind)) throw invalid('kind must be upper-case letters, digits and _, e.g. ENTERPRISE_GOOD_STANDING');
  if (typeof input.subject !== 'string' || input.subject === '' || input.subject.length > 256) throw invalid('subject must be a non-empty string of at most 256 characters');
  if (typeof input.purpose !== 'string' || input.purpose.trim() === '' || input.purpose.length > MAX_PURPOSE_LENGTH) throw invalid(`purpose must be a non-empty text of at most ${MAX_PURPOSE_LENGTH} characters`);
  if (!Array.isArray(input.parts) || input.parts.length === 0 || input.parts.length > MAX_BUNDLE_PARTS) throw invalid(`a bundle has 1 to ${MAX_BUNDLE_PARTS} parts`);
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  if (!Number.isFinite(nowMs)) throw invalid('now must be a valid time');
  const iat = Math.floor(nowMs / 1000);
  if ((input.validitySeconds === undefined) === (input.expiresAt === undefined)) throw invalid('give exactly one of validitySeconds and expiresAt');
  if (input.validitySeconds !== undefined && (!Number.isSafeInteger(input.validitySeconds) || input.validitySeconds <= 0)) throw invalid('validitySeconds must be a positive whole number');
  const expMs = input.expiresAt === undefined ? Number.NaN : typeof input.expiresAt === 'number' ? input.expiresAt : input.expiresAt.getTime();
  const exp = input.validitySeconds !== undefined ? iat + input.validitySeconds : Math.floor(expMs / 1000);
  if (!Number.isFinite(exp) || exp <= iat) throw invalid('expiresAt must be a valid time after now');

  const parts = input.parts.map((part, i): BundlePartClaim => {
    const { jwt, claims } = partClaims(part, i);
    if (typeof claims.iss !== 'string' || typeof claims.kind !== 'string' || typeof claims.exp !== 'number') throw invalid(`part ${i + 1} is not a proof token (no iss, kind or exp)`);
    if (claims.purpose !== input.purpose) throw invalid(`part ${i + 1} (${claims.kind}) was issued for another purpose`);
    if (claims.exp < exp) throw invalid(`part ${i + 1} (${claims.kind}) expires before the bundle would`);
    return { digest: sha256Base64url(jwt), iss: claims.iss, kind: claims.kind };
  });
  const signer = createHubStatementSigner({ keyStore: input.keyStore, typ: PROOF_BUNDLE_TOKEN_TYPE });
  if (input.status !== undefined && (!Number.isSafeInteger(input.status.idx) || input.status.idx < 0 || typeof input.status.uri !== 'string' || input.status.uri === '')) {
    throw invalid('status must be { idx: a whole number ≥ 0, uri: the status list URL }');
  }
  const status = input.status ? { status: { status_list: { idx: input.status.idx, uri: input.status.uri } } } : {};
  const envelope = signer.sign({ sub: input.subject, exp, kind: input.kind, purpose: input.purpose, parts, ...status }, iat * 1000);
  return { envelope, parts, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
}

/** Why a bundle is refused: the envelope's own reasons, or a part's (with `part`, its index from 0). */
export type ProofBundleRejectReason = ProofRejectReason | 'PART_MISMATCH' | 'PART_INVALID';

/** A bundle that verified, with each part's verification. */
export interface ProofBundleVerified {
  readonly valid: true;
  readonly kind: string;
  readonly subject: string;
  readonly purpose: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** The envelope's status (its own entry, when it has one); each part has its own. */
  readonly status: ProofVerified['status'];
  readonly parts: readonly ProofVerified[];
}

/** A refused bundle; `part` and `partReason` say which part failed and why, for PART_INVALID. */
export interface ProofBundleRejected {
  readonly valid: false;
  readonly reason: ProofBundleRejectReason;
  readonly detail: string;
  readonly part?: number;
  readonly partReason?: ProofRejectReason;
}

/**
 * Verifies a bundle: the envelope (the hub's checkpoint key, `typ` `datarun-proof-bundle+jwt`,
 * `iat`, `exp`), then that `parts` are exactly the envelope's, in order, by the digest of each
 * issuer JWT, of the named department and kind (`PART_MISMATCH`), and each part with
 * `verifyProof` and the same options (`PART_INVALID` with the part's reason), for the bundle's
 * purpose, then the envelope's own status entry (REVOKED). Never throws.
 */
export async function verifyProofBundle(envelope: string, parts: readonly string[], options: VerifyProofOptions): Promise<ProofBundleVerified | ProofBundleRejected> {
  const reject = (reason: ProofBundleRejectReason, detail: string, extra: { part?: number; partReason?: ProofRejectReason } = {}): ProofBundleRejected => ({ valid: false, reason, detail, ...extra });
  const nowMs = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const skewSec = options.clockSkewSec ?? DEFAULT_CLOCK_SKEW_SEC;
  const verified = verifyHubStatement(envelope, PROOF_BUNDLE_TOKEN_TYPE, { ...options.keys, now: nowMs, clockSkewSec: skewSec });
  if (!verified.valid) return reject(verified.reason, `envelope: ${verified.message}`);
  const { sub, exp, kind, purpose, parts: named } = verified.claims as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof kind !== 'string' || typeof purpose !== 'string' || typeof exp !== 'number' || !Array.isArray(named)) {
    return reject('MALFORMED', 'the envelope lacks one of sub, exp, kind, purpose, parts');
  }
  if (exp * 1000 <= nowMs - skewSec * 1000) return reject('EXPIRED', `the bundle expired at ${new Date(exp * 1000).toISOString()}`);
  if (!Array.isArray(parts) || parts.length !== named.length) return reject('PART_MISMATCH', `the envelope names ${named.length} parts; ${Array.isArray(parts) ? parts.length : 0} were given`);
  const results: ProofVerified[] = [];
  for (const [i, part] of parts.entries()) {
    const claim = named[i] as Partial<BundlePartClaim> | null;
    const jwt = typeof part === 'string' ? part.split('~')[0]! : '';
    if (!claim || typeof claim.digest !== 'string' || sha256Base64url(jwt) !== claim.digest) return reject('PART_MISMATCH', `part ${i + 1} is not the proof the envelope names at that place`, { part: i });
    const result = await verifyProof(part, { ...options, now: nowMs });
    if (!result.valid) return reject('PART_INVALID', `part ${i + 1}: ${result.detail}`, { part: i, partReason: result.reason });
    if (result.department !== claim.iss || result.kind !== claim.kind) return reject('PART_MISMATCH', `part ${i + 1} is not of the department and kind the envelope names`, { part: i });
    if (result.purpose !== purpose) return reject('PART_MISMATCH', `part ${i + 1} was issued for another purpose than the bundle`, { part: i });
    results.push(result);
  }
  const checked = await checkStatusEntry((verified.claims as Record<string, unknown>).status, options, nowMs, skewSec);
  if (!checked.ok) return reject(checked.reason, `envelope: ${checked.detail}`);
  return { valid: true, kind, subject: sub, purpose, issuedAt: verified.issuedAt, expiresAt: new Date(exp * 1000), status: checked.status, parts: results };
}

/** A bundle in one string: `<envelope>,<part>,<part>…` (what `issueProof` returns, what /verify and `datarun verify` read). */
export function joinProofBundle(envelope: string, parts: readonly string[]): string {
  return [envelope, ...parts].join(PROOF_BUNDLE_SEPARATOR);
}

/** The envelope and parts of a bundle's one-string form, or undefined when `text` is not one (a single proof, say). */
export function splitProofBundle(text: string): { envelope: string; parts: string[] } | undefined {
  if (typeof text !== 'string' || !text.includes(PROOF_BUNDLE_SEPARATOR)) return undefined;
  const [envelope, ...parts] = text.trim().split(PROOF_BUNDLE_SEPARATOR);
  let typ: unknown;
  try {
    typ = (JSON.parse(Buffer.from(envelope!.split('.')[0]!, 'base64url').toString('utf8')) as { typ?: unknown }).typ;
  } catch {
    return undefined;
  }
  return typ === PROOF_BUNDLE_TOKEN_TYPE && parts.length > 0 ? { envelope: envelope!, parts } : undefined;
}
