/**
 * Where the status lists live: which indices of each list were handed out, and each entry's
 * status. Two implementations: `createSharedStatusListStore` on src/state's shared bitmaps (in
 * memory for one instance, in Redis for several: a claim is one SETBIT, so two instances never
 * both take an index) and `openFileStatusListStore` (file-store.ts, the embedded mode).
 */
import type { SharedBits } from '../state';
import { ProofsError, ProofsErrorCode } from './errors';
import { checkStatusBits, checkStatusValue, type StatusBits } from './status-list';

/** The fewest entries a list may have: a smaller list tells too much about who holds which entry. */
export const MIN_STATUS_LIST_SIZE = 16_384;

/** The entries of a list unless configured. */
export const DEFAULT_STATUS_LIST_SIZE = 131_072;

/** The most entries a list may have (2^24: 16 MiB of bytes at 8 bits). */
export const MAX_STATUS_LIST_SIZE = 2 ** 24;

/** The highest list number (lists are 0, 1, 2, …). */
export const MAX_STATUS_LIST_NUMBER = 2 ** 20 - 1;

/** The lists of one allocator: every method is atomic with respect to every other user of the store. */
export interface StatusListStore {
  /** Entries per list. */
  readonly size: number;
  /** Bits per entry. */
  readonly bits: StatusBits;
  /** Marks `idx` of `list` handed out; true when it was free (this call took it), false when taken before. */
  claim(list: number, idx: number): Promise<boolean>;
  /** Whether `idx` of `list` was handed out. */
  isClaimed(list: number, idx: number): Promise<boolean>;
  /** How many indices of `list` were handed out. */
  claimedCount(list: number): Promise<number>;
  /** The first free index of `list` at or after `from`, or undefined when every one from there to the end is taken. */
  firstFree(list: number, from: number): Promise<number | undefined>;
  /** Writes the status of entry `idx` of `list`. */
  writeStatus(list: number, idx: number, status: number): Promise<void>;
  /** The uncompressed list in the draft's layout: `size * bits / 8` bytes. */
  readBytes(list: number): Promise<Uint8Array>;
  /** Releases what the store holds (files, locks); the store refuses everything after. */
  close(): Promise<void>;
}

/** Throws STATUS_LIST_OPTIONS_INVALID unless `size` is a multiple of 8 from MIN to MAX_STATUS_LIST_SIZE. */
export function checkListSize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < MIN_STATUS_LIST_SIZE || size > MAX_STATUS_LIST_SIZE || size % 8 !== 0) {
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_OPTIONS_INVALID, `a status list size must be a multiple of 8 from ${MIN_STATUS_LIST_SIZE} to ${MAX_STATUS_LIST_SIZE}, not ${String(size)}`);
  }
  return size;
}

/** Throws STATUS_LIST_OPTIONS_INVALID unless `list` is a list number. */
export function checkListNumber(list: unknown): number {
  if (typeof list !== 'number' || !Number.isSafeInteger(list) || list < 0 || list > MAX_STATUS_LIST_NUMBER) {
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_OPTIONS_INVALID, `a status list number must be an integer from 0 to ${MAX_STATUS_LIST_NUMBER}, not ${String(list)}`);
  }
  return list;
}

/** Throws STATUS_INDEX_OUT_OF_RANGE unless `idx` is an index of a list of `size` entries. */
export function checkListIndex(idx: unknown, size: number): number {
  if (typeof idx !== 'number' || !Number.isSafeInteger(idx) || idx < 0 || idx >= size) {
    throw new ProofsError(ProofsErrorCode.STATUS_INDEX_OUT_OF_RANGE, `status index ${String(idx)} is not an integer from 0 to ${size - 1}`);
  }
  return idx;
}

/**
 * The field number, in a bitmap of src/state (offset 0 = the most significant bit of byte 0),
 * that holds entry `idx` in the draft's layout (entry 0 in the least significant bits): the same
 * byte, the slot mirrored within it. Written there, the bitmap's bytes are the draft's list.
 */
export function mirroredField(idx: number, bits: StatusBits): number {
  const perByte = 8 / bits;
  return idx - (idx % perByte) + (perByte - 1 - (idx % perByte));
}

/** Options of `createSharedStatusListStore`. */
export interface SharedStatusListStoreOptions {
  /** A namespace of shared bitmaps (`sharedState.bits('status-lists')`). */
  readonly bitmaps: SharedBits;
  /** @default DEFAULT_STATUS_LIST_SIZE */
  readonly size?: number;
  /** @default 2 */
  readonly bits?: number;
}

/**
 * Status lists in shared bitmaps: `used:<list>` (one bit per index, claimed with one atomic
 * SETBIT in Redis) and `status:<list>` (the list's bytes in the draft's layout). Every instance
 * sharing the bitmaps must be configured with the same size and bits.
 */
export function createSharedStatusListStore(options: SharedStatusListStoreOptions): StatusListStore {
  const size = checkListSize(options.size ?? DEFAULT_STATUS_LIST_SIZE);
  const bits = checkStatusBits(options.bits ?? 2);
  const { bitmaps } = options;
  let closed = false;
  const guard = (list: number, idx?: number): void => {
    if (closed) throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, 'the status list store is closed');
    checkListNumber(list);
    if (idx !== undefined) checkListIndex(idx, size);
  };
  return {
    size,
    bits,
    async claim(list, idx) {
      guard(list, idx);
      return bitmaps.claim(`used:${list}`, idx);
    },
    async isClaimed(list, idx) {
      guard(list, idx);
      return bitmaps.isSet(`used:${list}`, idx);
    },
    async claimedCount(list) {
      guard(list);
      return bitmaps.count(`used:${list}`);
    },
    async firstFree(list, from) {
      guard(list, from);
      const found = await bitmaps.firstClear(`used:${list}`, from >> 3);
      // The search starts at the byte of `from`: a clear bit before `from` in that byte does not count.
      if (found < from) return nextFreeFrom(list, from);
      return found < size ? found : undefined;
    },
    async writeStatus(list, idx, status) {
      guard(list, idx);
      await bitmaps.setField(`status:${list}`, bits, mirroredField(idx, bits), checkStatusValue(status, bits));
    },
    async readBytes(list) {
      guard(list);
      const stored = await bitmaps.read(`status:${list}`);
      const bytes = new Uint8Array((size * bits) / 8);
      bytes.set(stored.subarray(0, bytes.length));
      return bytes;
    },
    async close() {
      closed = true;
    },
  };

  /** The first clear bit at or after `from` when the byte of `from` has a clear bit before it. */
  async function nextFreeFrom(list: number, from: number): Promise<number | undefined> {
    for (let idx = from; idx < size && idx < (from | 7) + 1; idx++) if (!(await bitmaps.isSet(`used:${list}`, idx))) return idx;
    const found = await bitmaps.firstClear(`used:${list}`, (from >> 3) + 1);
    return found < size ? found : undefined;
  }
}
