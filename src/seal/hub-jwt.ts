import { CONSENT_TOKEN_TYPE } from './consent';
import { CONSOLE_LOGIN_TOKEN_TYPE } from './console-login';
import { SealInputError } from './errors';
import type { KeyStore } from './key-store';
import { CHECKPOINT_TOKEN_TYPE, RECEIPT_TOKEN_TYPE } from './receipt';
import { REQUEST_TOKEN_TYPE } from './request';
import { SEAL_TOKEN_TYPE } from './seal';
import { failureMessage, signIssuerJwt, trustedKeysOf, verifyIssuerJwt, type VerificationFailureReason, type VerifyOptions } from './signed-jwt';

/**
 * Statements the hub signs about its own state for other modules, each of a `typ` of their own
 * (e.g. `statuslist+jwt`, the status lists of src/proofs): the same signing path and the same
 * verifier as receipts and checkpoints, with the hub's checkpoint key (the key of the hub's
 * periodic statements about its state). The format of the claims is the caller's.
 */

/** The token types the seal module defines itself: a hub statement may not take one of them. */
const RESERVED_TYPES: ReadonlySet<string> = new Set([SEAL_TOKEN_TYPE, RECEIPT_TOKEN_TYPE, CHECKPOINT_TOKEN_TYPE, REQUEST_TOKEN_TYPE, CONSENT_TOKEN_TYPE, CONSOLE_LOGIN_TOKEN_TYPE]);

/** A media-type-like `typ`: lower-case letters, digits and `.+-`, at most 64 characters. */
const TYP = /^[a-z0-9][a-z0-9.+-]{0,63}$/;

/** Checks the `typ` of a statement of another module: media-type-like, and not one of the seal module's own (internal to src/seal). */
export function checkTyp(typ: unknown): string {
  if (typeof typ !== 'string' || !TYP.test(typ)) throw new SealInputError('a statement needs a typ of lower-case letters, digits and ".+-" (at most 64)');
  if (RESERVED_TYPES.has(typ)) throw new SealInputError(`typ ${typ} belongs to the seal module and cannot be signed as another module's statement`);
  return typ;
}

/** Signs the hub's statements of one `typ` with its checkpoint key. */
export interface HubStatementSigner {
  readonly typ: string;
  /** A compact JWS over `claims` with header `{ alg, kid, typ }`; `iss` (the hub id) and `iat` (from `now`) are set by the signer. */
  sign(claims: Readonly<Record<string, unknown>>, now?: Date | number): string;
}

/** Creates a signer of hub statements of type `typ` (refused: a malformed typ, or one of the seal module's own). */
export function createHubStatementSigner(options: { readonly keyStore: KeyStore; readonly typ: string }): HubStatementSigner {
  const typ = checkTyp(options.typ);
  const { keyStore } = options;
  return { typ, sign: (claims, now) => signIssuerJwt(keyStore, keyStore.hubId, 'checkpoint', typ, { ...claims }, now).token };
}

/** The outcome of `verifyHubStatement`. */
export type HubStatementVerification =
  | {
      readonly valid: true;
      readonly issuer: string;
      readonly keyId: string;
      readonly algorithm: string;
      readonly issuedAt: Date;
      readonly header: Readonly<Record<string, unknown>>;
      readonly claims: Readonly<Record<string, unknown>>;
    }
  | { readonly valid: false; readonly reason: VerificationFailureReason; readonly message: string; readonly keyId: string | undefined };

/**
 * Verifies a hub statement of type `typ`: header, the hub's checkpoint key, signature, `iss`,
 * `iat`/`nbf` and the key's validity, as every issuer JWT. Claims beyond those (`exp`, `sub`)
 * are the caller's to check. Never throws for a bad token.
 */
export function verifyHubStatement(token: string, typ: string, options: VerifyOptions): HubStatementVerification {
  const verified =
    typeof token === 'string' ? verifyIssuerJwt(token, { typ: checkTyp(typ), use: 'checkpoint', issuerKind: 'hub' }, trustedKeysOf(options), options) : ({ ok: false, reason: 'MALFORMED', keyId: undefined } as const);
  if (!verified.ok) return { valid: false, reason: verified.reason, message: `${typ}: ${failureMessage(verified)}`, keyId: verified.keyId };
  return {
    valid: true,
    issuer: verified.payload.iss,
    keyId: verified.key.kid,
    algorithm: verified.key.alg,
    issuedAt: new Date(verified.payload.iat * 1000),
    header: verified.header,
    claims: verified.payload,
  };
}
