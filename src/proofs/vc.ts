/**
 * Proofs as SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc, RFC 9901): issued by the owning
 * department's seal key (header `typ: dc+sd-jwt`), the department's claims selectively
 * disclosable, the rest (kind, purpose, asOf, subject kind, holder binding, status) signed in the
 * clear; and the holder's presentation with a Key Binding JWT. Format: docs/proofs.md.
 */
import { KeyObject } from 'node:crypto';
import {
  SD_ALG,
  createDepartmentStatementSigner,
  createDisclosure,
  decodeDisclosure,
  holderPublicJwk,
  readPublicJwk,
  sdHashOf,
  signHolderJwt,
  isSealError,
  type HolderPrivateKey,
  type KeyStore,
  type PublicJwk,
} from '../seal';
import { ProofsError, ProofsErrorCode } from './errors';
import { statusReference } from './token';

/** The `typ` of a proof's issuer-signed JWT (draft-ietf-oauth-sd-jwt-vc). */
export const PROOF_TOKEN_TYPE = 'dc+sd-jwt';

/** The `typ` of a Key Binding JWT (RFC 9901). */
export const KEY_BINDING_TOKEN_TYPE = 'kb+jwt';

/** The prefix of the default `vct`: `urn:datarun:proof:<KIND>`. */
export const PROOF_VCT_PREFIX = 'urn:datarun:proof:';

/** The `holderBinding` claim: `cnf` when the proof is bound to the key in `cnf.jwk`, `none` for an unbound (paper) proof. */
export type HolderBinding = 'cnf' | 'none';

/** Claims of a proof that are always signed in the clear: a department claim may not take one of these names. */
export const PROOF_CLEAR_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'iat',
  'nbf',
  'exp',
  'sub',
  'vct',
  'vct#integrity',
  'cnf',
  'status',
  'aud',
  'jti',
  '_sd',
  '_sd_alg',
  '...',
  'kind',
  'purpose',
  'asOf',
  'subjectKind',
  'holderBinding',
  '__proto__',
  'constructor',
  'prototype',
]);

/** A proof kind or subject kind: upper-case letters, digits and `_` (`NO_TAX_ARREARS`, `PERSON`). */
const KIND = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Longest `purpose` (事由), in characters. */
export const MAX_PURPOSE_LENGTH = 500;

/** What `issueProofVc` signs. */
export interface IssueProofInput {
  readonly keyStore: KeyStore;
  /** The owning department: its trust-list id, the proof's `iss`; its current seal key signs. */
  readonly department: string;
  /** The proof kind, e.g. `NO_TAX_ARREARS` (the `kind` claim). */
  readonly kind: string;
  /** The `vct`. @default `urn:datarun:proof:<kind>` */
  readonly vct?: string;
  /** Why the proof is issued (事由): the `purpose` claim, signed in the clear. */
  readonly purpose: string;
  /** The department's "as of" time of the fact (the `asOf` claim, seconds since the epoch). */
  readonly asOf: Date | number;
  /** What the proof is about, e.g. `PERSON`, `ENTERPRISE` (the `subjectKind` claim). */
  readonly subjectKind: string;
  /** The department's claims, each one selectively disclosable; values are JSON data (an undefined claim is left out). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** How long the proof is valid from `now`; exactly one of `validitySeconds` and `expiresAt`. */
  readonly validitySeconds?: number;
  /** When the proof expires (`exp`); exactly one of `validitySeconds` and `expiresAt`. */
  readonly expiresAt?: Date | number;
  /** The `sub` claim: a pseudonymous reference (src/seal `sealSubject`); omitted when not given. */
  readonly subject?: string;
  /** The holder's key (public or private, JWK or KeyObject): its public JWK is bound as `cnf.jwk`. Omitted: an unbound proof (`holderBinding: none`). */
  readonly holderJwk?: HolderPrivateKey;
  /** The proof's entry in a Token Status List (`status.status_list`). */
  readonly status?: { readonly idx: number; readonly uri: string };
  /** The instant of `iat`. @default now */
  readonly now?: Date | number;
}

/** An issued proof: the compact SD-JWT with every disclosure, and what it says. Plain JSON. */
export interface IssuedProof {
  /** `<issuer JWT>~<disclosure>~…~`: every claim disclosable. */
  readonly token: string;
  /** Claim name → its base64url disclosure. */
  readonly disclosures: Readonly<Record<string, string>>;
  readonly department: string;
  readonly kind: string;
  readonly vct: string;
  readonly keyId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly holderBinding: HolderBinding;
}

const invalid = (message: string): ProofsError => new ProofsError(ProofsErrorCode.PROOF_INPUT_INVALID, message);

function seconds(what: string, value: Date | number): number {
  const ms = typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(`${what} must be a valid time`);
  return Math.floor(ms / 1000);
}

function checkKind(what: string, value: unknown): string {
  if (typeof value !== 'string' || !KIND.test(value)) throw invalid(`${what} must be upper-case letters, digits and _ (at most 64), e.g. NO_TAX_ARREARS`);
  return value;
}

/** Re-throws the seal module's input errors (an unknown department, a claim that is not JSON) as this module's. */
function sealCall<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (isSealError(error) && (error.code === 'ERR_SEAL_INPUT_INVALID' || error.code === 'ERR_JWK_INVALID')) throw new ProofsError(ProofsErrorCode.PROOF_INPUT_INVALID, error.message, error);
    throw error;
  }
}

/**
 * Issues a proof: an SD-JWT VC signed by `department`'s seal key. Every claim of `claims` becomes
 * a disclosure (digests sorted, so their order says nothing); `kind`, `purpose`, `asOf`,
 * `subjectKind`, `holderBinding`, `exp`, `vct`, and when given `sub`, `cnf` and `status` are
 * signed in the clear. Bad input is refused with PROOF_INPUT_INVALID naming it; a department
 * the hub holds no seal key for with the seal module's errors.
 */
export function issueProofVc(input: IssueProofInput): IssuedProof {
  const kind = checkKind('kind', input.kind);
  const subjectKind = checkKind('subjectKind', input.subjectKind);
  const vct = input.vct ?? `${PROOF_VCT_PREFIX}${kind}`;
  if (typeof vct !== 'string' || vct.length > 2048 || !URL.canParse(vct)) throw invalid('vct must be a URI (an https URL or a URN) of at most 2048 characters');
  if (vct.startsWith(PROOF_VCT_PREFIX) && vct !== `${PROOF_VCT_PREFIX}${kind}`) throw invalid(`vct ${vct} names another kind than ${kind}`);
  if (typeof input.purpose !== 'string' || input.purpose.trim() === '' || input.purpose.length > MAX_PURPOSE_LENGTH) throw invalid(`purpose must be a non-empty text of at most ${MAX_PURPOSE_LENGTH} characters`);
  if (input.subject !== undefined && (typeof input.subject !== 'string' || input.subject === '' || input.subject.length > 256)) throw invalid('subject must be a non-empty string of at most 256 characters');
  const iat = seconds('now', input.now ?? Date.now());
  const asOf = seconds('asOf', input.asOf);
  if ((input.validitySeconds === undefined) === (input.expiresAt === undefined)) throw invalid('give exactly one of validitySeconds and expiresAt');
  if (input.validitySeconds !== undefined && (!Number.isSafeInteger(input.validitySeconds) || input.validitySeconds <= 0)) throw invalid('validitySeconds must be a positive whole number');
  const exp = input.validitySeconds !== undefined ? iat + input.validitySeconds : seconds('expiresAt', input.expiresAt!);
  if (exp <= iat) throw invalid('expiresAt must be after now');
  if (input.claims === null || typeof input.claims !== 'object' || Array.isArray(input.claims)) throw invalid('claims must be an object');

  const disclosures: Record<string, string> = {};
  const digests: string[] = [];
  for (const name of Object.keys(input.claims)) {
    const value = input.claims[name];
    if (value === undefined) continue;
    if (PROOF_CLEAR_CLAIMS.has(name)) throw invalid(`claim "${name}" has a reserved name`);
    const disclosure = sealCall(() => createDisclosure(name, value));
    disclosures[name] = disclosure.encoded;
    digests.push(disclosure.digest);
  }
  digests.sort();

  let cnf: { jwk: PublicJwk } | undefined;
  if (input.holderJwk !== undefined) {
    const key = input.holderJwk;
    const jwk = key instanceof KeyObject ? sealCall(() => holderPublicJwk(key)) : (readPublicJwk(key) ?? sealCall(() => holderPublicJwk(key)));
    cnf = { jwk };
  }
  const status = input.status === undefined ? undefined : statusReference(input.status.uri, input.status.idx);
  const claims: Record<string, unknown> = {
    vct,
    ...(input.subject !== undefined ? { sub: input.subject } : {}),
    exp,
    kind,
    purpose: input.purpose,
    asOf,
    subjectKind,
    holderBinding: cnf ? 'cnf' : 'none',
    ...(cnf ? { cnf } : {}),
    ...(status ? { status } : {}),
    _sd_alg: SD_ALG,
    _sd: digests,
  };
  const signer = createDepartmentStatementSigner({ keyStore: input.keyStore, typ: PROOF_TOKEN_TYPE });
  const { token, kid } = signer.sign(input.department, claims, iat * 1000);
  return {
    token: `${[token, ...Object.values(disclosures)].join('~')}~`,
    disclosures,
    department: input.department,
    kind,
    vct,
    keyId: kid,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    holderBinding: cnf ? 'cnf' : 'none',
  };
}

/** Options of `presentProof`. */
export interface PresentProofOptions {
  /** The claims to disclose, by name, or `all`. A name the proof does not have is refused. */
  readonly disclose: readonly string[] | 'all';
  /** The holder's private key: adds a Key Binding JWT (then `nonce` and `audience` are required). */
  readonly holderKey?: HolderPrivateKey;
  /** The verifier's challenge (the KB-JWT's `nonce`). */
  readonly nonce?: string;
  /** The verifier (the KB-JWT's `aud`). */
  readonly audience?: string;
  /** The KB-JWT's `iat`. @default now */
  readonly now?: Date | number;
}

/** A proof token split into its issuer JWT and its disclosures by name; refused when it is not `<jwt>~<d>~…~`. */
function splitIssued(token: string): { jwt: string; byName: Map<string, string> } {
  if (typeof token !== 'string') throw invalid('a proof token must be a string');
  const parts = token.split('~');
  if (parts.length < 2 || parts[0] === '' || parts[parts.length - 1] !== '') throw invalid('a proof token must be <issuer JWT>~<disclosure>~…~ (without a key binding JWT)');
  const byName = new Map<string, string>();
  parts.slice(1, -1).forEach((encoded, i) => {
    const decoded = decodeDisclosure(encoded);
    if (!decoded) throw invalid(`disclosure ${i + 1} of the proof token is not a base64url JSON [salt, name, value]`);
    if (byName.has(decoded.name)) throw invalid(`the proof token discloses "${decoded.name}" twice`);
    byName.set(decoded.name, encoded);
  });
  return { jwt: parts[0]!, byName };
}

/** The bound `cnf.jwk` of an issuer JWT (read, not verified: the holder's own token). */
function boundJwkOf(jwt: string): PublicJwk | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { cnf?: { jwk?: unknown } };
    return readPublicJwk(payload?.cnf?.jwk);
  } catch {
    return undefined;
  }
}

const sameJwk = (a: PublicJwk, b: PublicJwk): boolean => JSON.stringify([a.kty, a.crv, a.x, 'y' in a ? a.y : '']) === JSON.stringify([b.kty, b.crv, b.x, 'y' in b ? b.y : '']);

/**
 * The holder's presentation: the issuer JWT, the chosen disclosures, and — with `holderKey` — a
 * Key Binding JWT (`typ: kb+jwt`, `iat`, `aud`, `nonce`, `sd_hash` over everything before it),
 * i.e. `<jwt>~<d>~…~<kb-jwt>`; without a key, `<jwt>~<d>~…~`. Refused with PROOF_INPUT_INVALID:
 * a malformed token, a claim it does not have, a key binding without nonce or audience, or a
 * holder key other than the one the proof is bound to.
 */
export function presentProof(token: string, options: PresentProofOptions): string {
  const { jwt, byName } = splitIssued(token);
  const names = options.disclose === 'all' ? [...byName.keys()] : options.disclose;
  if (!Array.isArray(names) && options.disclose !== 'all') throw invalid("disclose must be a list of claim names or 'all'");
  const chosen: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const encoded = byName.get(name);
    if (encoded === undefined) throw invalid(`the proof has no claim "${String(name)}" to disclose`);
    if (seen.has(name)) continue;
    seen.add(name);
    chosen.push(encoded);
  }
  const presented = `${[jwt, ...chosen].join('~')}~`;
  if (options.holderKey === undefined) return presented;
  const { nonce, audience } = options;
  if (typeof nonce !== 'string' || nonce === '') throw invalid('a key binding needs the verifier’s nonce');
  if (typeof audience !== 'string' || audience === '') throw invalid('a key binding needs the verifier as audience');
  const bound = boundJwkOf(jwt);
  if (!bound) throw invalid('the proof is not bound to a holder key (holderBinding none): present it without holderKey');
  const holderKey = options.holderKey;
  if (!sameJwk(sealCall(() => holderPublicJwk(holderKey)), bound)) throw invalid('holderKey is not the key the proof is bound to');
  const iat = seconds('now', options.now ?? Date.now());
  const kb = sealCall(() => signHolderJwt(KEY_BINDING_TOKEN_TYPE, { iat, aud: audience, nonce, sd_hash: sdHashOf(presented) }, holderKey));
  return `${presented}${kb}`;
}
