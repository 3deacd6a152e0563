import { createHmac, createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { canonicalize } from './canonicalize';
import { SealInputError, UnknownOwnerError } from './errors';
import { sha256Base64url } from './hash';
import { decodeDisclosure } from './sd-jwt';
import { base64url, fromBase64url } from './jws';
import type { KeyStore } from './key-store';
import { failureMessage, signIssuerJwt, trustedKeysOf, verifyIssuerJwt, type VerificationFailureReason, type VerifyOptions } from './signed-jwt';

/**
 * Record seals as SD-JWTs (RFC 9901): the department's key signs salted SHA-256 digests of
 * every field once, when the record enters the hub; each reply discloses only the fields
 * that consumer selected and may see.
 */

/** `typ` header of a seal's issuer-signed JWT. */
export const SEAL_TOKEN_TYPE = 'datarun-seal+sd-jwt';

/** Claim names a record field may not take: they are the seal's own claims or SD-JWT syntax. */
const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(['_sd', '_sd_alg', '...', 'iss', 'iat', 'nbf', 'exp', 'sub', 'vct', 'cnf', 'status', 'aud', 'jti', '__proto__']);

/** Shortest seal-subject secret accepted, in bytes: an HMAC key shorter than its output weakens it. */
export const MIN_SEAL_SUBJECT_SECRET_BYTES = 32;

/**
 * The seal's `sub`: a pseudonymous reference to the record,
 * `base64url(HMAC-SHA256(secret, recordType + ':' + recordId))` (43 characters). It is the same
 * for every seal of that record made with that secret and reveals nothing of the identifier: the
 * record's id may be a value no consumer may see (a tax-internal id) or one a reply masks (an
 * identity number), and a seal is shared by every consumer, so the id itself is never signed.
 */
export function sealSubject(secret: Uint8Array | string | KeyObject, recordType: string, recordId: string): string {
  return createHmac('sha256', secret instanceof KeyObject ? secret : subjectKey(secret)).update(`${recordType}:${recordId}`, 'utf8').digest('base64url');
}

/** The seal-subject secret as an HMAC key, checked once (a sealer keeps it for every record it seals). */
function subjectKey(secret: Uint8Array | string): KeyObject {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SEAL_SUBJECT_SECRET_BYTES) throw new SealInputError(`the seal-subject secret must be at least ${MIN_SEAL_SUBJECT_SECRET_BYTES} bytes`);
  return createSecretKey(bytes);
}

/** A record to seal. */
export interface SealRecordInput {
  /** The department whose seal key signs: its connector id. */
  readonly department: string;
  /** The record's type, e.g. `TaxClearance` (the `vct` claim). */
  readonly recordType: string;
  /** The record's id in its department: only keys the pseudonymous `sub` (`sealSubject`), never signed itself. */
  readonly recordId: string;
  /** The record's fields, by the names the reply uses; values are JSON data (an undefined field is not sealed). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** @default now */
  readonly issuedAt?: Date | number;
}

/** A sealed record as cached with it: the issuer-signed JWT and one encoded disclosure per field. Plain JSON. */
export interface SealedRecord {
  readonly jwt: string;
  /** Field name → base64url disclosure `[salt, name, value]`. */
  readonly disclosures: Readonly<Record<string, string>>;
  readonly department: string;
  readonly recordType: string;
  /** The `sub` claim: the record's pseudonymous reference (`sealSubject`), never its id. */
  readonly subject: string;
  readonly keyId: string;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
}

/** Seals records with the departments' current seal keys. */
export interface Sealer {
  /** Seals one record: one signature over the salted digests of all its fields. */
  sealRecord(input: SealRecordInput): SealedRecord;
  /** The `sub` this sealer gives a record (`sealSubject` with its secret). */
  subjectOf(recordType: string, recordId: string): string;
}

/** Options of `createSealer`. */
export interface SealerOptions {
  readonly keyStore: KeyStore;
  /**
   * The hub secret keying the seals' pseudonymous `sub` (at least 32 bytes; the gateway keeps it
   * in the keys directory's private part). @default a random secret of this sealer: subjects are
   * then stable only for its lifetime
   */
  readonly subjectSecret?: Uint8Array | string;
}

/** Creates a sealer over the hub's key store (node:crypto with KeyObjects imported once). */
export function createSealer(options: SealerOptions): Sealer {
  const { keyStore } = options;
  // Checked once here rather than on the first seal.
  const subjectSecret = subjectKey(options.subjectSecret ?? randomBytes(32));
  return {
    subjectOf: (recordType, recordId) => sealSubject(subjectSecret, recordType, recordId),
    sealRecord(input) {
      const owner = keyStore.owner(input.department);
      if (!owner || owner.kind !== 'department') throw new UnknownOwnerError(`unknown department: ${input.department}`);
      if (typeof input.recordType !== 'string' || input.recordType === '') throw new SealInputError('expected a recordType');
      if (typeof input.recordId !== 'string' || input.recordId === '') throw new SealInputError('expected a recordId');
      const names = Object.keys(input.fields).filter((name) => input.fields[name] !== undefined);
      const salts = randomBytes(16 * names.length);
      const disclosures: Record<string, string> = {};
      const digests: string[] = [];
      names.forEach((name, i) => {
        if (RESERVED_FIELD_NAMES.has(name)) throw new SealInputError(`field "${name}" has a reserved name`);
        const value = input.fields[name];
        try {
          canonicalize(value);
        } catch {
          throw new SealInputError(`field "${name}" is not JSON data`);
        }
        const disclosure = base64url(JSON.stringify([salts.subarray(16 * i, 16 * i + 16).toString('base64url'), name, value]));
        disclosures[name] = disclosure;
        digests.push(sha256Base64url(disclosure));
      });
      digests.sort(); // the order of the digests must not reveal the order of the fields
      const subject = sealSubject(subjectSecret, input.recordType, input.recordId);
      const { token, kid, iat } = signIssuerJwt(keyStore, input.department, 'seal', SEAL_TOKEN_TYPE, { vct: input.recordType, sub: subject, _sd_alg: 'sha-256', _sd: digests }, input.issuedAt);
      return { jwt: token, disclosures, department: input.department, recordType: input.recordType, subject, keyId: kid, issuedAt: iat };
    },
  };
}

/**
 * The compact SD-JWT `<jwt>~<disclosure>~…~` disclosing exactly the named fields (names the
 * record does not have are skipped). Pass only fields the reply shows unmasked: a masked
 * value disclosed here would reveal what the mask hides — or use `presentSealForReply`.
 */
export function presentSeal(sealed: SealedRecord, fieldNames: Iterable<string>): string {
  const parts = [sealed.jwt];
  const seen = new Set<string>();
  for (const name of fieldNames) {
    if (seen.has(name) || !Object.prototype.hasOwnProperty.call(sealed.disclosures, name)) continue;
    seen.add(name);
    parts.push(sealed.disclosures[name]!);
  }
  return `${parts.join('~')}~`;
}

const canonicalValues = new WeakMap<SealedRecord, Map<string, string>>();

function sealedCanonical(sealed: SealedRecord, name: string): string | undefined {
  let values = canonicalValues.get(sealed);
  if (!values) canonicalValues.set(sealed, (values = new Map()));
  let value = values.get(name);
  if (value === undefined) {
    const encoded = sealed.disclosures[name];
    if (encoded === undefined) return undefined;
    value = canonicalize((JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as unknown[])[2]);
    values.set(name, value);
  }
  return value;
}

/**
 * The SD-JWT for one record of a reply: discloses each field of `reply` whose value is exactly
 * the sealed value, so masked fields (`371702********1234`), fields the reply reshaped (a
 * sub-selection of an object) and fields not in the reply are never disclosed.
 */
export function presentSealForReply(sealed: SealedRecord, reply: Readonly<Record<string, unknown>>): string {
  const names: string[] = [];
  for (const name of Object.keys(reply)) {
    const value = reply[name];
    if (value === undefined || !Object.prototype.hasOwnProperty.call(sealed.disclosures, name)) continue;
    let shown: string;
    try {
      shown = canonicalize(value);
    } catch {
      continue;
    }
    if (shown === sealedCanonical(sealed, name)) names.push(name);
  }
  return presentSeal(sealed, names);
}

/**
 * A seal as another hub presented it (`<jwt>~<disclosure>~…~`), taken apart so that this hub can
 * present it again with fewer disclosures (`presentSeal`, `presentSealForReply`) without signing
 * anything: the JWT stays the department's. Read, not verified (the consumer verifies it against
 * the other hub's keys); undefined when it is not a seal presentation.
 */
export function sealedFromPresentation(token: string): SealedRecord | undefined {
  if (typeof token !== 'string' || token.length > 1024 * 1024) return undefined;
  const parts = token.split('~');
  if (parts.length < 2 || parts[parts.length - 1] !== '') return undefined;
  const jwt = parts[0]!;
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    const [h, p] = jwt.split('.');
    header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (header === null || claims === null || typeof header !== 'object' || typeof claims !== 'object') return undefined;
  const disclosures: Record<string, string> = {};
  for (const encoded of parts.slice(1, -1)) {
    const decoded = decodeDisclosure(encoded);
    if (!decoded || Object.prototype.hasOwnProperty.call(disclosures, decoded.name)) return undefined;
    Object.defineProperty(disclosures, decoded.name, { value: encoded, enumerable: true, writable: false, configurable: false });
  }
  return {
    jwt,
    disclosures,
    department: typeof claims.iss === 'string' ? claims.iss : '',
    recordType: typeof claims.vct === 'string' ? claims.vct : '',
    subject: typeof claims.sub === 'string' ? claims.sub : '',
    keyId: typeof header.kid === 'string' ? header.kid : '',
    issuedAt: typeof claims.iat === 'number' ? claims.iat : 0,
  };
}

/** A seal that verified: who sealed which record, and the disclosed fields. */
export interface SealVerified {
  readonly valid: true;
  readonly issuer: string;
  readonly keyId: string;
  readonly algorithm: string;
  readonly issuedAt: Date;
  readonly recordType: string;
  /** The `sub` claim, as signed: the record's pseudonymous reference (an opaque string; seals made before it was pseudonymous carry the record's id). */
  readonly subject: string;
  /** @deprecated the same value as `subject`; the record's own id is never in a seal. */
  readonly recordId: string;
  readonly disclosed: Record<string, unknown>;
}

/** A seal that did not verify: the reason code and its text; `keyId` is the kid it claimed. */
export interface SealRejected {
  readonly valid: false;
  readonly reason: VerificationFailureReason;
  readonly message: string;
  readonly keyId: string | undefined;
  readonly disclosed: Record<string, never>;
}

/** The outcome of `verifySeal`. */
export type SealVerification = SealVerified | SealRejected;

function rejected(reason: VerificationFailureReason, keyId?: string, message?: string): SealRejected {
  return { valid: false, reason, message: `seal: ${failureMessage({ reason, ...(message !== undefined ? { message } : {}) })}`, keyId, disclosed: {} };
}

/**
 * Verifies a presented seal: the department's signature, its key's trust entry (owned by that
 * department, not revoked before `iat`, not expired), and that every disclosure's digest is
 * signed and appears once. Never throws for a bad token.
 */
export function verifySeal(token: string, options: VerifyOptions): SealVerification {
  if (typeof token !== 'string') return rejected('MALFORMED');
  const parts = token.split('~');
  // `<jwt>~<d1>~…~`: at least the JWT and the empty part after the last `~` (no key-binding JWT).
  if (parts.length < 2 || parts[parts.length - 1] !== '') return rejected('MALFORMED');
  const verified = verifyIssuerJwt(parts[0]!, { typ: SEAL_TOKEN_TYPE, use: 'seal', issuerKind: 'department' }, trustedKeysOf(options), options);
  if (!verified.ok) return rejected(verified.reason, verified.keyId, verified.message);
  const { payload, key } = verified;
  const keyId = key.kid;
  const sdAlg = payload._sd_alg ?? 'sha-256';
  if (sdAlg !== 'sha-256') return rejected('UNSUPPORTED_SD_ALG', keyId);
  const sd = payload._sd ?? [];
  if (!Array.isArray(sd) || !sd.every((d) => typeof d === 'string')) return rejected('MALFORMED', keyId);
  const signedDigests = new Set(sd as string[]);
  if (signedDigests.size !== sd.length) return rejected('MALFORMED', keyId);
  if (typeof payload.vct !== 'string' || typeof payload.sub !== 'string') return rejected('MALFORMED', keyId);

  const disclosed: Record<string, unknown> = {};
  const seenDigests = new Set<string>();
  for (const disclosure of parts.slice(1, -1)) {
    const bytes = disclosure === '' ? undefined : fromBase64url(disclosure);
    if (!bytes) return rejected('MALFORMED_DISCLOSURE', keyId);
    const digest = sha256Base64url(disclosure);
    if (seenDigests.has(digest)) return rejected('DUPLICATE_DISCLOSURE', keyId);
    seenDigests.add(digest);
    let decoded: unknown;
    try {
      decoded = JSON.parse(bytes.toString('utf8'));
    } catch {
      return rejected('MALFORMED_DISCLOSURE', keyId);
    }
    if (!Array.isArray(decoded) || decoded.length !== 3 || typeof decoded[0] !== 'string' || typeof decoded[1] !== 'string') return rejected('MALFORMED_DISCLOSURE', keyId);
    const name = decoded[1];
    if (name === '_sd' || name === '...' || RESERVED_FIELD_NAMES.has(name) || Object.prototype.hasOwnProperty.call(payload, name)) return rejected('MALFORMED_DISCLOSURE', keyId);
    if (!signedDigests.has(digest)) return rejected('DISCLOSURE_NOT_SIGNED', keyId);
    if (Object.prototype.hasOwnProperty.call(disclosed, name)) return rejected('DUPLICATE_DISCLOSURE', keyId);
    Object.defineProperty(disclosed, name, { value: decoded[2], enumerable: true, writable: true, configurable: true });
  }
  return {
    valid: true,
    issuer: payload.iss,
    keyId,
    algorithm: key.alg,
    issuedAt: new Date(payload.iat * 1000),
    recordType: payload.vct,
    subject: payload.sub,
    recordId: payload.sub,
    disclosed,
  };
}
