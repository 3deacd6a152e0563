/**
 * The seal module: keys and the trust list, signed requests, record seals (SD-JWT), receipts
 * and checkpoints. The only importer of node-jose; see README.md for the formats and the
 * node-jose / node:crypto split.
 */
export {
  SealError,
  SealErrorCode,
  UnauthenticatedError,
  TrustListInvalidError,
  PrivateKeyMissingError,
  KeyFileInsecureError,
  KeyMismatchError,
  UnknownOwnerError,
  UnknownKeyError,
  NoSigningKeyError,
  UnsupportedAlgorithmError,
  InvalidKeyError,
  SealInputError,
  CanonicalizationError,
  KeyStoreLockedError,
  JwksUnavailableError,
  RevocationTimeError,
  PeerStatementRefusedError,
  isSealError,
  type UnauthenticatedReason,
} from './errors';
export { canonicalize, isWellFormed } from './canonicalize';
export { sha256Base64url, hashJson, hashText } from './hash';
export { SIGNING_ALGORITHMS, type SigningAlgorithm } from './jws';
export {
  DEFAULT_HUB_ID,
  DEMO_OWNERS,
  KEY_USES_BY_KIND,
  DEFAULT_KEY_RETENTION_DAYS,
  type OwnerKind,
  type KeyUse,
  type OwnerEntry,
  type OwnerSpec,
  type PublicJwk,
  type TrustList,
  type TrustListKey,
} from './trust';
export {
  KEY_FILES,
  initKeys,
  loadKeyStore,
  createKeyStore,
  rotateKey,
  revokeKey,
  type KeyStore,
  type InitKeysOptions,
  type InitKeysReport,
  type RotateKeyOptions,
  type RotateKeyReport,
  type RevokeKeyOptions,
  type RevokeKeyReport,
  type FederationRootInfo,
} from './key-store';
export { importJwks, loadJwks, type Jwks, type PublishedJwk, type PublishedKeyTrust } from './jwks';
export { DEFAULT_CLOCK_SKEW_SEC, type TrustedKey, type TrustedKeys } from './trusted-keys';
export type { ReplayGuard } from './replay-guard';
export {
  REQUEST_TOKEN_TYPE,
  REQUEST_AUTH_SCHEME,
  MAX_REQUEST_LIFETIME_SEC,
  DEFAULT_REQUEST_LIFETIME_SEC,
  missingRequestTokenMessage,
  claimTextProblem,
  readRequestToken,
  createRequestSigner,
  createRequestVerifier,
  oboProblem,
  OBO_MEMBERS,
  MAX_OBO_ID_LENGTH,
  MAX_OBO_REQUEST_ID_LENGTH,
  type OnBehalfOf,
  type RequestClaims,
  type RequestContext,
  type PrivateJwk,
  type RequestSigner,
  type RequestSignerOptions,
  type RequestVerifier,
  type RequestVerifierOptions,
  type VerifiedRequest,
} from './request';
export { type VerificationFailureReason, type VerificationKeys, type VerifyOptions } from './signed-jwt';
export { createSignatureMemo, DEFAULT_SIGNATURE_MEMO_BYTES, SIGNATURE_MEMO_ENTRY_BYTES, type SignatureMemo } from './signature-memo';
export {
  SEAL_TOKEN_TYPE,
  createSealer,
  presentSeal,
  presentSealForReply,
  sealedFromPresentation,
  verifySeal,
  type Sealer,
  type SealRecordInput,
  type SealedRecord,
  type SealVerification,
  type SealVerified,
  type SealRejected,
} from './seal';
export {
  RECEIPT_TOKEN_TYPE,
  CHECKPOINT_TOKEN_TYPE,
  createReceiptSigner,
  verifyReceipt,
  createCheckpointSigner,
  verifyCheckpoint,
  type ReceiptInput,
  type ReceiptClaims,
  type ReceiptSigner,
  type ReceiptVerification,
  type ReceiptVerified,
  type ReceiptRejected,
  type VerifyReceiptOptions,
  type CheckpointSigner,
  type CheckpointVerification,
} from './receipt';
export {
  CONSENT_TOKEN_TYPE,
  createConsentSigner,
  createConsentVerifier,
  type ConsentInput,
  type ConsentSigner,
  type ConsentCheck,
} from './consent';
export {
  CONSOLE_LOGIN_TOKEN_TYPE,
  MAX_CONSOLE_LOGIN_LIFETIME_SEC,
  DEFAULT_CONSOLE_LOGIN_LIFETIME_SEC,
  signConsoleLogin,
  createConsoleLoginVerifier,
  type ConsoleLoginClaims,
  type ConsoleLoginInput,
  type ConsoleLoginVerifier,
  type ConsoleLoginVerifierOptions,
  type VerifiedConsoleLogin,
} from './console-login';
export { createHubStatementSigner, verifyHubStatement, type HubStatementSigner, type HubStatementVerification } from './hub-jwt';
export { createDepartmentStatementSigner, verifyDepartmentStatement, type DepartmentStatementSigner, type DepartmentStatementVerification } from './department-jwt';
export { SD_ALG, createDisclosure, decodeDisclosure, sdHashOf, type IssuedDisclosure, type DecodedDisclosure } from './sd-jwt';
export { checkPublicJwk, holderPublicJwk, readPublicJwk, signHolderJwt, verifyHolderJwt, type HolderPrivateKey, type HolderJwtProblem, type HolderJwtVerification } from './holder-jwt';
export { FEDERATION_ROOT_USE, FEDERATION_ROOT_FILE, jwkThumbprint } from './federation-root';
export {
  FEDERATION_JWKS_TOKEN_TYPE,
  FEDERATION_STATEMENT_PATH,
  DEFAULT_FEDERATION_STATEMENT_LIFETIME_SEC,
  MAX_FEDERATION_STATEMENT_LIFETIME_SEC,
  MAX_FEDERATION_STATEMENT_LENGTH,
  PEER_STATEMENT_MESSAGES,
  pinnedRootThumbprint,
  createFederationStatementSigner,
  verifyPeerJwks,
  requirePeerJwks,
  type PinnedRoot,
  type PeerStatementReason,
  type FederationStatementClaims,
  type FederationStatementSigner,
  type VerifyPeerJwksOptions,
  type PeerJwksVerified,
  type PeerJwksRejected,
} from './federation';
