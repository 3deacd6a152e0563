/**
 * The status list of draft-ietf-oauth-status-list: `bits` per entry (1, 2, 4 or 8), entry `i` in
 * byte floor(i * bits / 8) at bit (i * bits) mod 8 counted from the least significant bit, so a
 * byte holds its entries from its low bits up; the bytes compressed with DEFLATE in the ZLIB
 * format (RFC 1950) at the highest level and encoded as unpadded base64url: `lst`.
 */
import { constants, deflateSync, inflateSync } from 'node:zlib';
import { ProofsError, ProofsErrorCode } from './errors';

/** The bits per entry a status list may have. */
export type StatusBits = 1 | 2 | 4 | 8;

/** Every allowed bits-per-entry value. */
export const STATUS_BITS: readonly StatusBits[] = [1, 2, 4, 8];

/** The status values the draft registers (others up to 2^bits - 1 are application-specific). */
export const STATUS = Object.freeze({ VALID: 0, INVALID: 1, SUSPENDED: 2 } as const);

/** A status list as it travels in a Status List Token (`status_list`). */
export interface StatusList {
  readonly bits: StatusBits;
  readonly lst: string;
}

/** The most bytes `decodeStatusList` inflates by default (16 MiB: 134 million 1-bit entries). */
export const DEFAULT_MAX_STATUS_LIST_BYTES = 16 * 1024 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Checks `bits` is 1, 2, 4 or 8; throws STATUS_LIST_BITS_INVALID otherwise. */
export function checkStatusBits(bits: unknown): StatusBits {
  if (bits === 1 || bits === 2 || bits === 4 || bits === 8) return bits;
  throw new ProofsError(ProofsErrorCode.STATUS_LIST_BITS_INVALID, `bits per status must be 1, 2, 4 or 8, not ${typeof bits === 'number' ? bits : typeof bits}`);
}

function checkIndex(index: unknown, length: number): number {
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= length) {
    throw new ProofsError(ProofsErrorCode.STATUS_INDEX_OUT_OF_RANGE, `status index ${typeof index === 'number' ? index : typeof index} is not an integer from 0 to ${length - 1}`);
  }
  return index;
}

/** Checks `status` is an integer that fits `bits`; throws STATUS_VALUE_INVALID otherwise. */
export function checkStatusValue(status: unknown, bits: StatusBits, where = 'status'): number {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status >= 2 ** bits) {
    throw new ProofsError(ProofsErrorCode.STATUS_VALUE_INVALID, `${where} must be an integer from 0 to ${2 ** bits - 1} for ${bits}-bit entries, not ${typeof status === 'number' ? status : typeof status}`);
  }
  return status;
}

/** The number of entries `bytes` bytes hold at `bits` per entry. */
export function entriesIn(bytes: number, bits: StatusBits): number {
  return (bytes * 8) / bits;
}

/** The status of entry `index` in the uncompressed list `bytes` (STATUS_INDEX_OUT_OF_RANGE past its end). */
export function readStatus(bytes: Uint8Array, bits: StatusBits, index: number): number {
  checkIndex(index, entriesIn(bytes.length, bits));
  const offset = index * bits;
  return (bytes[offset >> 3]! >> (offset & 7)) & ((1 << bits) - 1);
}

/** Writes `status` into entry `index` of the uncompressed list `bytes`. */
export function writeStatus(bytes: Uint8Array, bits: StatusBits, index: number, status: number): void {
  checkIndex(index, entriesIn(bytes.length, bits));
  checkStatusValue(status, bits);
  const offset = index * bits;
  const mask = ((1 << bits) - 1) << (offset & 7);
  bytes[offset >> 3] = (bytes[offset >> 3]! & ~mask) | (status << (offset & 7));
}

/** The uncompressed bytes of `statuses` at `bits` per entry (the last byte padded with VALID entries). */
export function packStatuses(statuses: ArrayLike<number>, bits: StatusBits): Uint8Array {
  checkStatusBits(bits);
  const bytes = new Uint8Array(Math.ceil((statuses.length * bits) / 8));
  for (let i = 0; i < statuses.length; i++) writeStatus(bytes, bits, i, checkStatusValue(statuses[i], bits, `status ${i}`));
  return bytes;
}

/** Every entry of the uncompressed list `bytes`, in order (a byte's padding included). */
export function unpackStatuses(bytes: Uint8Array, bits: StatusBits): Uint8Array {
  const out = new Uint8Array(entriesIn(bytes.length, bits));
  for (let i = 0; i < out.length; i++) out[i] = readStatus(bytes, bits, i);
  return out;
}

/** Compresses uncompressed list bytes into `lst`. */
export function compressStatusBytes(bytes: Uint8Array): string {
  return deflateSync(bytes, { level: constants.Z_BEST_COMPRESSION }).toString('base64url');
}

/**
 * Encodes `statuses` (one number per entry) as a status list of `bits` per entry. Refused with
 * a coded error: bits not 1, 2, 4 or 8 (STATUS_LIST_BITS_INVALID), a status that is not an
 * integer fitting the bits (STATUS_VALUE_INVALID, naming its index).
 */
export function encodeStatusList(statuses: ArrayLike<number>, bits: number): StatusList {
  const checked = checkStatusBits(bits);
  return { bits: checked, lst: compressStatusBytes(packStatuses(statuses, checked)) };
}

/**
 * Decodes a status list into its uncompressed bytes (read them with `readStatus` or
 * `unpackStatuses`). Refused with a coded error: bits not 1, 2, 4 or 8, `lst` not unpadded
 * base64url or not ZLIB data (STATUS_LIST_ENCODING_INVALID), more than `maxBytes` once inflated.
 */
export function decodeStatusList(list: { bits: unknown; lst: unknown }, options: { maxBytes?: number } = {}): { bits: StatusBits; bytes: Uint8Array } {
  if (typeof list !== 'object' || list === null) throw new ProofsError(ProofsErrorCode.STATUS_LIST_ENCODING_INVALID, 'a status list must be an object { bits, lst }');
  const bits = checkStatusBits(list.bits);
  const { lst } = list;
  if (typeof lst !== 'string' || !BASE64URL.test(lst) || lst.length % 4 === 1) {
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_ENCODING_INVALID, 'status list lst is not unpadded base64url');
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_STATUS_LIST_BYTES;
  let bytes: Buffer;
  try {
    bytes = inflateSync(Buffer.from(lst, 'base64url'), { maxOutputLength: maxBytes });
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_ENCODING_INVALID, tooLarge ? `status list inflates beyond ${maxBytes} bytes` : 'status list lst is not ZLIB/DEFLATE data', error);
  }
  return { bits, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
