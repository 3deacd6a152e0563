/**
 * The few file operations the audit log's data path makes, behind an interface so that tests
 * can count fsyncs and inject the failures a real disk produces (ENOSPC, EROFS, EIO) even when
 * they run as root, where permissions stop nothing.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

/** The file operations of the audit log's data path. */
export interface AuditFs {
  /** Opens a file: `r` to read, `r+` to write at explicit positions, `wx` to create a new one. */
  open(path: string, flags: 'r' | 'r+' | 'wx'): Promise<number>;
  /** Writes all of `data` at `position` (looping over short writes). */
  write(fd: number, data: Uint8Array, position: number): Promise<void>;
  /** Makes the file's data and size durable (fdatasync). */
  datasync(fd: number): Promise<void>;
  /** Cuts the file to `length` bytes. */
  truncate(fd: number, length: number): Promise<void>;
  /** Reads up to `into.length` bytes at `position`; resolves with the count read. */
  read(fd: number, into: Uint8Array, position: number): Promise<number>;
  /** The file's current size in bytes. */
  size(fd: number): Promise<number>;
  /** Closes a file. */
  close(fd: number): Promise<void>;
  /** Makes a directory entry (a created, renamed or removed file) durable. */
  syncDir(dir: string): Promise<void>;
}

const writeAsync = promisify(fs.write);
const readAsync = promisify(fs.read);
const openAsync = promisify(fs.open);
const fdatasyncAsync = promisify(fs.fdatasync);
const fsyncAsync = promisify(fs.fsync);
const ftruncateAsync = promisify(fs.ftruncate);
const fstatAsync = promisify(fs.fstat);
const closeAsync = promisify(fs.close);

/** The real file system. */
export const nodeAuditFs: AuditFs = {
  open: (path, flags) => openAsync(path, flags, 0o640),
  async write(fd, data, position) {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await writeAsync(fd, data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  },
  datasync: (fd) => fdatasyncAsync(fd),
  truncate: (fd, length) => ftruncateAsync(fd, length),
  read: async (fd, into, position) => (await readAsync(fd, into, 0, into.length, position)).bytesRead,
  size: async (fd) => (await fstatAsync(fd)).size,
  close: (fd) => closeAsync(fd),
  async syncDir(dir) {
    const fd = await openAsync(dir, 'r');
    try {
      await fsyncAsync(fd);
    } finally {
      await closeAsync(fd);
    }
  },
};

/**
 * The real file system without fdatasync: records reach the page cache only. For the
 * benchmark's baseline of durable auditing ("the same run with the sink writing without
 * fsync"); never for a hub whose replies must not outlive their records.
 */
export const noSyncAuditFs: AuditFs = Object.freeze({
  ...nodeAuditFs,
  datasync: async () => undefined,
  syncDir: async () => undefined,
});
