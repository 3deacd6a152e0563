/**
 * Proofs the hub issues and revokes: the Token Status List (draft-ietf-oauth-status-list) that
 * says whether each proof still holds — the list codec, the signed Status List Token, the
 * allocator handing out random entries, and its stores (a file, or src/state's shared bitmaps in
 * memory or Redis). README.md.
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
