/**
 * Proofs the hub issues and revokes: the Token Status List (draft-ietf-oauth-status-list) that
 * says whether each proof still holds — the list codec, the signed Status List Token, the
 * allocator handing out random entries, and its stores (a file, or src/state's shared bitmaps in
 * memory or Redis) — and the proofs themselves: SD-JWT VCs issued, presented with key binding,
 * verified, and bundled under a hub envelope. README.md, docs/proofs.md.
 */
export { ProofsError, ProofsErrorCode } from './errors';
export {
  STATUS,
  STATUS_BITS,
  DEFAULT_MAX_STATUS_LIST_BYTES,
  encodeStatusList,
  decodeStatusList,
  readStatus,
  unpackStatuses,
  type StatusBits,
  type StatusList,
} from './status-list';
export {
  STATUS_LIST_TOKEN_TYPE,
  DEFAULT_STATUS_LIST_LIFETIME_SEC,
  statusReference,
  createStatusListSigner,
  signStatusListToken,
  verifyStatusListToken,
  statusAt,
  type StatusReference,
  type StatusListSigner,
  type StatusListTokenInput,
  type StatusListRejectReason,
  type VerifiedStatusList,
  type RejectedStatusList,
  type VerifyStatusListOptions,
} from './token';
export {
  MIN_STATUS_LIST_SIZE,
  DEFAULT_STATUS_LIST_SIZE,
  MAX_STATUS_LIST_SIZE,
  MAX_STATUS_LIST_NUMBER,
  createSharedStatusListStore,
  type StatusListStore,
  type SharedStatusListStoreOptions,
} from './store';
export { openFileStatusListStore, type FileStatusListStoreOptions } from './file-store';
export { createStatusListAllocator, type StatusListAllocator, type StatusEntry, type StatusListSnapshot } from './allocator';
export {
  PROOF_TOKEN_TYPE,
  KEY_BINDING_TOKEN_TYPE,
  PROOF_VCT_PREFIX,
  PROOF_CLEAR_CLAIMS,
  MAX_PURPOSE_LENGTH,
  issueProofVc,
  presentProof,
  type HolderBinding,
  type IssueProofInput,
  type IssuedProof,
  type PresentProofOptions,
} from './vc';
export {
  verifyProof,
  type ProofRejectReason,
  type ProofStatus,
  type ProofVerified,
  type ProofRejected,
  type ProofVerification,
  type StatusListSource,
  type VerifyProofOptions,
} from './verify-vc';
export {
  PROOF_BUNDLE_TOKEN_TYPE,
  MAX_BUNDLE_PARTS,
  PROOF_BUNDLE_SEPARATOR,
  issueProofBundle,
  verifyProofBundle,
  joinProofBundle,
  splitProofBundle,
  type IssueProofBundleInput,
  type IssuedProofBundle,
  type BundlePartClaim,
  type ProofBundleRejectReason,
  type ProofBundleVerified,
  type ProofBundleRejected,
} from './bundle';
export {
  PROOF_QR_PREFIX,
  MAX_PROOF_QR_CHARS,
  BASE45_ALPHABET,
  base45Encode,
  base45Decode,
  encodeProofForQr,
  decodeProofFromQr,
  type ProofQrPayload,
  type EncodeProofForQrOptions,
  type DecodedProofQr,
} from './qr-payload';
export { PROOF_REASON_ZH, PROOF_BUNDLE_REASON_ZH, PROOF_STATUS_ZH, proofReasonZh, maskIdentifier, beijingTime } from './words-zh';
