/**
 * Status lists in a directory, for the embedded mode (one hub process): one file per list
 * (`list-<n>.json`: the format, size, bits, the claimed-index bitmap and the list's bytes, both
 * base64url), every change written whole to a temporary file, fsync'd, renamed over the list's
 * file and the directory fsync'd, before the call resolves: an index handed out is on disk, so a
 * restarted hub never hands it out again. A lock file (`.lock`, the holder's pid) keeps a second
 * live process out; operations of this process run one at a time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ProofsError, ProofsErrorCode } from './errors';
import { checkStatusBits, checkStatusValue, writeStatus, type StatusBits } from './status-list';
import { checkListIndex, checkListNumber, checkListSize, DEFAULT_STATUS_LIST_SIZE, type StatusListStore } from './store';

/** The format tag of a list file. */
const FORMAT = 'datarun-status-list/1';

/** Options of `openFileStatusListStore`. */
export interface FileStatusListStoreOptions {
  /** The directory of the lists (created if absent). */
  readonly dir: string;
  /** @default DEFAULT_STATUS_LIST_SIZE */
  readonly size?: number;
  /** @default 2 */
  readonly bits?: number;
}

interface ListState {
  readonly used: Uint8Array;
  readonly bytes: Uint8Array;
  claimed: number;
}

const corrupt = (file: string, problem: string): ProofsError => new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_CORRUPT, `status list file ${file} ${problem}`);
const unavailable = (what: string, cause: unknown): ProofsError => new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, `status list store: ${what} failed (${(cause as Error).message ?? String(cause)})`, cause);

const popcount = (bytes: Uint8Array): number => {
  let n = 0;
  for (const byte of bytes) for (let b = byte; b; b &= b - 1) n++;
  return n;
};

function lockDir(dir: string): string {
  const lockFile = path.join(dir, '.lock');
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unavailable('writing the lock file', error);
      const pid = Number(fs.readFileSync(lockFile, 'utf8'));
      let alive: boolean;
      try {
        alive = Number.isInteger(pid) && pid > 0 && (pid === process.pid || (process.kill(pid, 0), true));
      } catch {
        alive = false;
      }
      if (alive) throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, `status list directory ${dir} is held by live process ${pid}`);
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, `status list directory ${dir} cannot be locked`);
}

/** Opens (or creates) the directory of status lists; lists are read when first used. */
export function openFileStatusListStore(options: FileStatusListStoreOptions): StatusListStore {
  const size = checkListSize(options.size ?? DEFAULT_STATUS_LIST_SIZE);
  const bits: StatusBits = checkStatusBits(options.bits ?? 2);
  if (typeof options.dir !== 'string' || options.dir.length === 0) throw new ProofsError(ProofsErrorCode.STATUS_LIST_OPTIONS_INVALID, 'a status list store needs a directory');
  const dir = path.resolve(options.dir);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw unavailable('creating the directory', error);
  }
  const lockFile = lockDir(dir);
  const lists = new Map<number, ListState>();
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs `op` after every operation before it (one at a time in this process). */
  function serial<T>(op: () => T): Promise<T> {
    const run = queue.then(() => {
      if (closed) throw new ProofsError(ProofsErrorCode.STATUS_LIST_STORE_UNAVAILABLE, 'the status list store is closed');
      return op();
    });
    queue = run.catch(() => undefined);
    return run;
  }

  const fileOf = (list: number): string => path.join(dir, `list-${list}.json`);

  function load(list: number): ListState {
    checkListNumber(list);
    const cached = lists.get(list);
    if (cached) return cached;
    const file = fileOf(list);
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unavailable(`reading list ${list}`, error);
    }
    let state: ListState;
    if (text === undefined) {
      state = { used: new Uint8Array(size / 8), bytes: new Uint8Array((size * bits) / 8), claimed: 0 };
    } else {
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw corrupt(path.basename(file), 'is not JSON');
      }
      if (data.format !== FORMAT || data.list !== list) throw corrupt(path.basename(file), `is not list ${list} in format ${FORMAT}`);
      if (data.size !== size || data.bits !== bits) throw corrupt(path.basename(file), `holds ${String(data.size)} entries of ${String(data.bits)} bits, the store is configured for ${size} of ${bits}`);
      const used = typeof data.used === 'string' ? Buffer.from(data.used, 'base64url') : undefined;
      const bytes = typeof data.statuses === 'string' ? Buffer.from(data.statuses, 'base64url') : undefined;
      if (!used || used.length !== size / 8 || !bytes || bytes.length !== (size * bits) / 8) throw corrupt(path.basename(file), 'has bitmaps of the wrong length');
      state = { used: new Uint8Array(used), bytes: new Uint8Array(bytes), claimed: popcount(used) };
    }
    lists.set(list, state);
    return state;
  }

  function save(list: number, state: ListState): void {
    const file = fileOf(list);
    const tmp = `${file}.tmp`;
    const body = JSON.stringify({ format: FORMAT, list, size, bits, used: Buffer.from(state.used).toString('base64url'), statuses: Buffer.from(state.bytes).toString('base64url') });
    try {
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, body);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
      const dfd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch (error) {
      // What is in memory may now be ahead of the disk: forget it, the next use reads the file again.
      lists.delete(list);
      throw unavailable(`writing list ${list}`, error);
    }
  }

  const usedBit = (state: ListState, idx: number): boolean => (state.used[idx >> 3]! & (1 << (idx & 7))) !== 0;

  return {
    size,
    bits,
    claim: (list, idx) =>
      serial(() => {
        checkListIndex(idx, size);
        const state = load(list);
        if (usedBit(state, idx)) return false;
        state.used[idx >> 3]! |= 1 << (idx & 7);
        state.claimed++;
        save(list, state);
        return true;
      }),
    isClaimed: (list, idx) =>
      serial(() => {
        checkListIndex(idx, size);
        return usedBit(load(list), idx);
      }),
    claimedCount: (list) => serial(() => load(list).claimed),
    firstFree: (list, from) =>
      serial(() => {
        checkListIndex(from, size);
        const state = load(list);
        for (let idx = from; idx < size; idx++) {
          if (state.used[idx >> 3] === 0xff) idx |= 7;
          else if (!usedBit(state, idx)) return idx;
        }
        return undefined;
      }),
    writeStatus: (list, idx, status) =>
      serial(() => {
        checkListIndex(idx, size);
        checkStatusValue(status, bits);
        const state = load(list);
        writeStatus(state.bytes, bits, idx, status);
        save(list, state);
      }),
    readBytes: (list) => serial(() => Uint8Array.from(load(list).bytes)),
    close: async () => {
      if (closed) return;
      await serial(() => undefined).catch(() => undefined);
      closed = true;
      fs.rmSync(lockFile, { force: true });
    },
  };
}
