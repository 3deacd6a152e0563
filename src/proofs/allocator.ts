/**
 * Hands out status list entries for herd privacy: an index is drawn at random (node:crypto)
 * among the unused ones of the open list, never in order and never twice; when a list is full
 * the next one opens. A relying party fetching a list learns nothing from an index's position
 * about when, or to whom, it was issued.
 */
import { randomInt } from 'node:crypto';
import { ProofsError, ProofsErrorCode } from './errors';
import { checkStatusValue, compressStatusBytes, type StatusBits, type StatusList } from './status-list';
import { checkListIndex, checkListNumber, MAX_STATUS_LIST_NUMBER, type StatusListStore } from './store';

/** Random draws in a list before the allocator searches it for a free index from a random point. */
const RANDOM_DRAWS = 32;

/** Searches of one list that lost their index to another instance before the allocator gives up. */
const MAX_RACES = 16;

/** An entry handed out: list number and index (the URI of the list is the caller's: `/status/<list>`). */
export interface StatusEntry {
  readonly list: number;
  readonly idx: number;
}

/** A list as it is now, ready to sign. */
export interface StatusListSnapshot extends StatusList {
  readonly list: number;
  /** The uncompressed list (`size * bits / 8` bytes). */
  readonly bytes: Uint8Array;
}

/** Hands out entries and keeps their statuses. */
export interface StatusListAllocator {
  readonly size: number;
  readonly bits: StatusBits;
  /** A fresh entry, at a random unused index; its status is VALID (0). */
  allocate(): Promise<StatusEntry>;
  /** Sets the status of an entry handed out (STATUS_INDEX_OUT_OF_RANGE for one that never was). */
  setStatus(list: number, idx: number, status: number): Promise<void>;
  /** The list's statuses now, compressed (`{ bits, lst }`) and not. */
  snapshot(list: number): Promise<StatusListSnapshot>;
}

/** Creates the allocator over a store (the store fixes size and bits). */
export function createStatusListAllocator(options: { readonly store: StatusListStore }): StatusListAllocator {
  const { store } = options;
  const { size, bits } = store;
  /** Lists below this one are full (they never free up: indices are not reused). */
  let open = 0;

  /** Tries to take an index of `list`; undefined when the list is full. */
  async function takeFrom(list: number): Promise<number | undefined> {
    for (let draw = 0; draw < RANDOM_DRAWS; draw++) {
      const idx = randomInt(size);
      if (await store.claim(list, idx)) return idx;
    }
    // A crowded list: the first free index after a random point (wrapping round once).
    for (let race = 0; race < MAX_RACES; race++) {
      const start = randomInt(size);
      const idx = (await store.firstFree(list, start)) ?? (await store.firstFree(list, 0));
      if (idx === undefined) return undefined;
      if (await store.claim(list, idx)) return idx;
    }
    throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, `no index of status list ${list} could be taken: other instances kept taking them first`);
  }

  return {
    size,
    bits,
    async allocate() {
      for (let list = open; list <= MAX_STATUS_LIST_NUMBER; list++) {
        if (list > open) open = list;
        if ((await store.claimedCount(list)) >= size) continue;
        const idx = await takeFrom(list);
        if (idx !== undefined) return { list, idx };
      }
      throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, `every status list up to ${MAX_STATUS_LIST_NUMBER} is full`);
    },
    async setStatus(list, idx, status) {
      checkListNumber(list);
      checkListIndex(idx, size);
      checkStatusValue(status, bits);
      if (!(await store.isClaimed(list, idx))) throw new ProofsError(ProofsErrorCode.STATUS_INDEX_OUT_OF_RANGE, `index ${idx} of status list ${list} was never handed out`);
      await store.writeStatus(list, idx, status);
    },
    async snapshot(list) {
      checkListNumber(list);
      const bytes = await store.readBytes(list);
      return { list, bits, lst: compressStatusBytes(bytes), bytes };
    },
  };
}
