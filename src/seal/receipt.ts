import { SealInputError } from './errors';
import type { KeyStore } from './key-store';
import { FAILURE_MESSAGES, failureMessage, signIssuerJwt, trustedKeysOf, verifyIssuerJwt, type VerificationFailureReason, type VerifyOptions } from './signed-jwt';

/** `typ` header of a receipt. */
export const RECEIPT_TOKEN_TYPE = 'datarun-receipt+jwt';
/** The receipt format version, the `ver` claim of every receipt signed now. */
export const RECEIPT_VERSION = 1;
/** The receipt format versions `verifyReceipt` accepts. A receipt without `ver` was signed before the claim existed and is read as version 1. */
export const RECEIPT_VERSIONS: readonly number[] = [1];

/** `typ` header of an audit-log checkpoint. */
export const CHECKPOINT_TOKEN_TYPE = 'datarun-checkpoint+jwt';

/** What a receipt attests: which reply was delivered to whom, for which request, why. */
export interface ReceiptInput {
  readonly requestId: string;
  readonly consumer: string;
  /** 事由 */
  readonly purpose: string;
  /** 办件编号 */
  readonly case: string;
  /** 经办人 */
  readonly operator: string;
  /** When the request was served. */
  readonly time: Date | string;
  /** `hashText(query)`: SHA-256 of the query document's UTF-8 bytes. */
  readonly queryHash: string;
  /** `hashJson(variables)`: SHA-256 of the variables' canonical JSON. */
  readonly variablesHash?: string;
  /** `hashJson(data)`: SHA-256 of the reply `data`'s canonical JSON. */
  readonly dataHash: string;
  /** Sequence number of the request's record in the audit log. */
  readonly auditSeq?: number;
  /** The hub instance whose log holds the record. */
  readonly auditInstance?: string;
  /**
   * The newest signed tree head of that log when the reply left (its JWS): usually it does not
   * cover this request yet; the record's inclusion proof is fetched later against a newer head,
   * which must be consistent with this one.
   */
  readonly auditHead?: string;
}

/** The claims of a receipt. */
export interface ReceiptClaims {
  /** The hub's id. */
  readonly iss: string;
  readonly iat: number;
  /** The receipt format version (1); absent on receipts signed before it existed, which are version 1. */
  readonly ver?: number;
  readonly requestId: string;
  readonly consumer: string;
  readonly purpose: string;
  readonly case: string;
  readonly operator: string;
  /** ISO 8601. */
  readonly time: string;
  readonly queryHash: string;
  readonly variablesHash?: string;
  readonly dataHash: string;
  readonly auditSeq?: number;
  readonly auditInstance?: string;
  readonly auditHead?: string;
}

/** Signs receipts with the hub's current receipt key. */
export interface ReceiptSigner {
  /** A compact JWS over the receipt claims. */
  signReceipt(input: ReceiptInput, now?: Date | number): string;
}

const HASH = /^[A-Za-z0-9_-]{43}$/;

/** Creates the hub's receipt signer (node:crypto, key imported once). */
export function createReceiptSigner(options: { readonly keyStore: KeyStore }): ReceiptSigner {
  const { keyStore } = options;
  return {
    signReceipt(input, now) {
      for (const name of ['requestId', 'consumer', 'purpose', 'case', 'operator'] as const) {
        if (typeof input[name] !== 'string') throw new SealInputError(`expected a string ${name}`);
      }
      for (const name of ['queryHash', 'dataHash', 'variablesHash'] as const) {
        const value = input[name];
        if ((value !== undefined || name !== 'variablesHash') && !(typeof value === 'string' && HASH.test(value))) throw new SealInputError(`expected ${name} to be a base64url SHA-256`);
      }
      if (input.auditSeq !== undefined && !(Number.isSafeInteger(input.auditSeq) && input.auditSeq >= 0)) throw new SealInputError('expected auditSeq to be a non-negative integer');
      const time = input.time instanceof Date ? input.time.toISOString() : input.time;
      if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) throw new SealInputError('expected time to be a date');
      const claims: Record<string, unknown> = {
        ver: RECEIPT_VERSION,
        requestId: input.requestId,
        consumer: input.consumer,
        purpose: input.purpose,
        case: input.case,
        operator: input.operator,
        time,
        queryHash: input.queryHash,
        ...(input.variablesHash !== undefined ? { variablesHash: input.variablesHash } : {}),
        dataHash: input.dataHash,
        ...(input.auditSeq !== undefined ? { auditSeq: input.auditSeq } : {}),
        ...(typeof input.auditInstance === 'string' ? { auditInstance: input.auditInstance } : {}),
        ...(typeof input.auditHead === 'string' ? { auditHead: input.auditHead } : {}),
      };
      return signIssuerJwt(keyStore, keyStore.hubId, 'receipt', RECEIPT_TOKEN_TYPE, claims, now).token;
    },
  };
}

/** A receipt that verified. */
export interface ReceiptVerified {
  readonly valid: true;
  readonly issuer: string;
  readonly keyId: string;
  readonly algorithm: string;
  readonly issuedAt: Date;
  readonly receipt: ReceiptClaims;
}

/** A receipt that did not verify (or does not match the expected reply). */
export interface ReceiptRejected {
  readonly valid: false;
  readonly reason: VerificationFailureReason;
  readonly message: string;
  readonly keyId: string | undefined;
}

/** The outcome of `verifyReceipt`. */
export type ReceiptVerification = ReceiptVerified | ReceiptRejected;

/** Options of `verifyReceipt`: keys, and optionally what the receipt must say about the reply in hand. */
export type VerifyReceiptOptions = VerifyOptions & {
  /** Claims the receipt must carry exactly, e.g. `{ dataHash: hashJson(reply.data) }`; otherwise HASH_MISMATCH. */
  readonly expected?: Partial<Pick<ReceiptClaims, 'requestId' | 'consumer' | 'queryHash' | 'variablesHash' | 'dataHash'>>;
};

/** Verifies a receipt signed by the hub's receipt key; never throws for a bad token. */
export function verifyReceipt(token: string, options: VerifyReceiptOptions): ReceiptVerification {
  const fail = (reason: VerificationFailureReason, keyId?: string, message = FAILURE_MESSAGES[reason]): ReceiptRejected => ({ valid: false, reason, message: `receipt: ${message}`, keyId });
  if (typeof token !== 'string') return fail('MALFORMED');
  const verified = verifyIssuerJwt(token, { typ: RECEIPT_TOKEN_TYPE, use: 'receipt', issuerKind: 'hub' }, trustedKeysOf(options), options);
  if (!verified.ok) return fail(verified.reason, verified.keyId, failureMessage(verified));
  const claims = verified.payload as unknown as ReceiptClaims;
  const strings = [claims.requestId, claims.consumer, claims.purpose, claims.case, claims.operator, claims.time, claims.queryHash, claims.dataHash];
  if (!strings.every((s) => typeof s === 'string')) return fail('MALFORMED', verified.key.kid);
  // A format this verifier does not know may mean something else by the same claims: refused, not guessed.
  if (claims.ver !== undefined && !RECEIPT_VERSIONS.includes(claims.ver)) return fail('UNSUPPORTED_VERSION', verified.key.kid);
  for (const [name, value] of Object.entries(options.expected ?? {})) {
    if (value !== undefined && claims[name as keyof ReceiptClaims] !== value) return fail('HASH_MISMATCH', verified.key.kid);
  }
  return { valid: true, issuer: claims.iss, keyId: verified.key.kid, algorithm: verified.key.alg, issuedAt: new Date(claims.iat * 1000), receipt: claims };
}

/** Signs audit-log checkpoints with the hub's checkpoint key. */
export interface CheckpointSigner {
  /** A compact JWS over the checkpoint claims (e.g. `{ seq, head }`); `iss` and `iat` are set by the signer. */
  signCheckpoint(claims: Readonly<Record<string, unknown>>, now?: Date | number): string;
}

/** Creates the signer the audit log uses for its periodic checkpoints. */
export function createCheckpointSigner(options: { readonly keyStore: KeyStore }): CheckpointSigner {
  const { keyStore } = options;
  return { signCheckpoint: (claims, now) => signIssuerJwt(keyStore, keyStore.hubId, 'checkpoint', CHECKPOINT_TOKEN_TYPE, { ...claims }, now).token };
}

/** The outcome of `verifyCheckpoint`. */
export type CheckpointVerification =
  | { readonly valid: true; readonly issuer: string; readonly keyId: string; readonly algorithm: string; readonly issuedAt: Date; readonly claims: Readonly<Record<string, unknown>> }
  | { readonly valid: false; readonly reason: VerificationFailureReason; readonly message: string; readonly keyId: string | undefined };

/** Verifies an audit-log checkpoint signed by the hub's checkpoint key; never throws for a bad token. */
export function verifyCheckpoint(token: string, options: VerifyOptions): CheckpointVerification {
  const verified = typeof token === 'string' ? verifyIssuerJwt(token, { typ: CHECKPOINT_TOKEN_TYPE, use: 'checkpoint', issuerKind: 'hub' }, trustedKeysOf(options), options) : ({ ok: false, reason: 'MALFORMED', keyId: undefined } as const);
  if (!verified.ok) return { valid: false, reason: verified.reason, message: `checkpoint: ${failureMessage(verified)}`, keyId: verified.keyId };
  return { valid: true, issuer: verified.payload.iss, keyId: verified.key.kid, algorithm: verified.key.alg, issuedAt: new Date(verified.payload.iat * 1000), claims: verified.payload };
}
