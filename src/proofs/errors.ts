/**
 * Errors of the status lists and proofs: one base class with a stable code (a HubError, like every coded
 * error of the hub). Messages name the setting, index or problem at fault, never a token.
 */
import { HubError, type ErrorCode } from '../sdk';

/** The stable codes of src/proofs. */
export const ProofsErrorCode = {
  /** Bits per entry other than 1, 2, 4 or 8. */
  STATUS_LIST_BITS_INVALID: 'STATUS_LIST_BITS_INVALID',
  /** `lst` is not base64url, not ZLIB/DEFLATE data, or inflates beyond the limit. */
  STATUS_LIST_ENCODING_INVALID: 'STATUS_LIST_ENCODING_INVALID',
  /** A status is not an integer that fits the bits per entry. */
  STATUS_VALUE_INVALID: 'STATUS_VALUE_INVALID',
  /** An index outside the list, or one never handed out. */
  STATUS_INDEX_OUT_OF_RANGE: 'STATUS_INDEX_OUT_OF_RANGE',
  /** A Status List Token that cannot be signed as asked, or is read before it verified. */
  STATUS_LIST_TOKEN_INVALID: 'STATUS_LIST_TOKEN_INVALID',
  /** An allocator or store setting that cannot be used. */
  STATUS_LIST_OPTIONS_INVALID: 'STATUS_LIST_OPTIONS_INVALID',
  /** A list file that opening must not paper over. */
  STATUS_LIST_STORE_CORRUPT: 'STATUS_LIST_STORE_CORRUPT',
  /** A list that cannot be written or read, or an index that could not be handed out. */
  STATUS_LIST_STORE_UNAVAILABLE: 'STATUS_LIST_STORE_UNAVAILABLE',
  /** A proof, presentation or bundle that cannot be made from its input (a reserved claim name, no validity, a malformed token…). */
  PROOF_INPUT_INVALID: 'PROOF_INPUT_INVALID',
  /** A QR payload that cannot be read, or a proof too large for a QR code and no reference URL. */
  PROOF_QR_INVALID: 'PROOF_QR_INVALID',
} as const satisfies Record<string, ErrorCode>;

/** One of the codes of src/proofs. */
export type ProofsErrorCode = (typeof ProofsErrorCode)[keyof typeof ProofsErrorCode];

/** The errors of src/proofs: a stable `code`, a message naming what is at fault. */
export class ProofsError extends HubError {
  declare readonly code: ProofsErrorCode;

  constructor(code: ProofsErrorCode, message: string, cause?: unknown) {
    super(code, message, {}, cause);
  }
}
