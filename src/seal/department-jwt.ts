import { checkTyp } from './hub-jwt';
import type { KeyStore } from './key-store';
import { failureMessage, signIssuerJwt, trustedKeysOf, verifyIssuerJwt, type VerificationFailureReason, type VerifyOptions } from './signed-jwt';

/**
 * Statements a department signs through the hub for other modules, each of a `typ` of their own
 * (e.g. `dc+sd-jwt`, the proofs of src/proofs): signed with the department's seal key (the key
 * that vouches for its data), on the seals' signing path and verified as every issuer JWT. The
 * `typ` keeps them apart from record seals: `verifySeal` refuses a proof and the proof verifier
 * a seal. The format of the claims is the caller's.
 */

/** Signs one `typ` of statements for the departments whose seal keys the hub holds. */
export interface DepartmentStatementSigner {
  readonly typ: string;
  /** A compact JWS over `claims` with header `{ alg, kid, typ }`; `iss` (the department id) and `iat` (from `now`) are set by the signer. */
  sign(department: string, claims: Readonly<Record<string, unknown>>, now?: Date | number): { readonly token: string; readonly kid: string; readonly iat: number };
}

/** Creates a signer of department statements of type `typ` (refused: a malformed typ, or one of the seal module's own). */
export function createDepartmentStatementSigner(options: { readonly keyStore: KeyStore; readonly typ: string }): DepartmentStatementSigner {
  const typ = checkTyp(options.typ);
  const { keyStore } = options;
  return { typ, sign: (department, claims, now) => signIssuerJwt(keyStore, department, 'seal', typ, { ...claims }, now) };
}

/** The outcome of `verifyDepartmentStatement`. */
export type DepartmentStatementVerification =
  | {
      readonly valid: true;
      /** The department (its trust-list id, the `iss`). */
      readonly issuer: string;
      readonly keyId: string;
      readonly algorithm: string;
      readonly issuedAt: Date;
      readonly header: Readonly<Record<string, unknown>>;
      readonly claims: Readonly<Record<string, unknown>>;
    }
  | { readonly valid: false; readonly reason: VerificationFailureReason; readonly message: string; readonly keyId: string | undefined };

/**
 * Verifies a department statement of type `typ`: header, a department's seal key named by `kid`
 * with `iss` its owner, signature (low-S), `iat`/`nbf` and the key's validity. Claims beyond
 * those (`exp`, `sub`) are the caller's to check. Never throws for a bad token.
 */
export function verifyDepartmentStatement(token: string, typ: string, options: VerifyOptions): DepartmentStatementVerification {
  const verified =
    typeof token === 'string' ? verifyIssuerJwt(token, { typ: checkTyp(typ), use: 'seal', issuerKind: 'department' }, trustedKeysOf(options), options) : ({ ok: false, reason: 'MALFORMED', keyId: undefined } as const);
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
