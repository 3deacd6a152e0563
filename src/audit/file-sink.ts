/**
 * The embedded sink: append-only segment files of canonical JSON lines in one directory (layout
 * in segments.ts). One write and one fdatasync per batch; rotation by size and record count;
 * retention removes whole old segments, only those a checkpoint anchors.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AuditLogCorruptError, AuditLogLockedError } from './errors';
import { nodeAuditFs, type AuditFs } from './fs';
import { isTreeHead, RETENTION_TYPE } from './checkpoint';
import { AUDIT_FORMAT, isAuditRecord, type AuditRecord } from './record';
import { CHAIN_FILE, CHECKPOINTS_FILE, LOCK_FILE, listSegments, readChainFile, scanLines, segmentName, type ChainFile } from './segments';
import type { AuditLogEvent, AuditSink, AuditSinkState, SinkHead, SinkRecord } from './sink';

/** Settings of the embedded sink. */
export interface FileSinkOptions {
  /** The log directory (created if missing, unless read-only). */
  dir: string;
  /** A segment is closed once the next batch would take it past this size. @default 67108864 (64 MiB) */
  segmentMaxBytes?: number;
  /** A segment is closed once it holds this many records. @default 100000 */
  segmentMaxRecords?: number;
  /** Open without locking, repairing or writing (for `datarun audit export` next to a running hub). @default false */
  readOnly?: boolean;
  /** What to do with an incomplete last line left by a crash: cut it off (saving it aside) or refuse to open. @default 'repair' */
  tornTail?: 'repair' | 'refuse';
  /** @default nodeAuditFs */
  fs?: AuditFs;
  /** Hears repairs and unreadable lines. */
  onEvent?: (event: AuditLogEvent) => void;
  /** The directory is the archiver's copy of another process's chain (marked in chain.json). @default false */
  archive?: boolean;
}

/** The sink's defaults. */
export const DEFAULT_FILE_SINK_OPTIONS = {
  segmentMaxBytes: 64 * 1024 * 1024,
  segmentMaxRecords: 100_000,
  readOnly: false,
  tornTail: 'repair',
} as const;

interface Segment {
  id: number;
  name: string;
  /** Seq of the first and last record (0 while empty). */
  firstSeq: number;
  lastSeq: number;
  /** Time of the newest record, ms since the epoch. */
  lastTime: number;
  size: number;
  count: number;
  readFd: number | undefined;
}

/** Locks held by this process, so that a pid reused across container restarts is not mistaken for a live writer. */
const heldLocks = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeLock(dir: string): Promise<string> {
  const file = path.resolve(dir, LOCK_FILE);
  if (heldLocks.has(file)) throw new AuditLogLockedError(dir, process.pid);
  try {
    await writeFile(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) throw new AuditLogLockedError(dir, pid);
    // The writer that left it is gone (a crash): take it over.
    await writeFile(file, String(process.pid));
  }
  heldLocks.add(file);
  return file;
}

/**
 * Growable seq → (segment, offset, length) table: 16 bytes a record, so a million records cost
 * 16 MB rather than a million small objects.
 */
class Positions {
  base = 0;
  private length = 0;
  private segment = new Uint32Array(1024);
  private offset = new Float64Array(1024);
  private size = new Uint32Array(1024);

  set(seq: number, segment: number, offset: number, size: number): boolean {
    if (this.length === 0) this.base = seq;
    const i = seq - this.base;
    // A damaged log may claim any seq; refuse to grow the table without bound for it.
    if (i < 0 || i > this.length + 1_000_000) return false;
    if (i >= this.segment.length) this.grow(Math.max(i + 1, this.segment.length * 2));
    this.segment[i] = segment;
    this.offset[i] = offset;
    this.size[i] = size;
    if (i >= this.length) this.length = i + 1;
    return true;
  }

  get(seq: number): { segment: number; offset: number; size: number } | undefined {
    const i = seq - this.base;
    if (i < 0 || i >= this.length || this.segment[i] === 0) return undefined;
    return { segment: this.segment[i]!, offset: this.offset[i]!, size: this.size[i]! };
  }

  /** Forgets every seq below `seq` and gives the memory back. */
  dropBefore(seq: number): void {
    const cut = Math.min(Math.max(0, seq - this.base), this.length);
    if (cut === 0) return;
    const keep = this.length - cut;
    const capacity = Math.max(1024, keep * 2);
    this.segment = copyFrom(new Uint32Array(capacity), this.segment.subarray(cut, this.length));
    this.offset = copyFrom(new Float64Array(capacity), this.offset.subarray(cut, this.length));
    this.size = copyFrom(new Uint32Array(capacity), this.size.subarray(cut, this.length));
    this.base += cut;
    this.length = keep;
  }

  private grow(capacity: number): void {
    this.segment = copyFrom(new Uint32Array(capacity), this.segment);
    this.offset = copyFrom(new Float64Array(capacity), this.offset);
    this.size = copyFrom(new Uint32Array(capacity), this.size);
  }
}

function copyFrom<T extends Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source as never);
  return target;
}

/** Creates the embedded, file-based sink. */
export function createFileSink(options: FileSinkOptions): AuditSink {
  const fs = options.fs ?? nodeAuditFs;
  const dir = options.dir;
  const maxBytes = options.segmentMaxBytes ?? DEFAULT_FILE_SINK_OPTIONS.segmentMaxBytes;
  const maxRecords = options.segmentMaxRecords ?? DEFAULT_FILE_SINK_OPTIONS.segmentMaxRecords;
  const readOnly = options.readOnly ?? false;
  const tornTail = options.tornTail ?? DEFAULT_FILE_SINK_OPTIONS.tornTail;
  const emit = options.onEvent ?? (() => undefined);

  const segments: Segment[] = [];
  const byId = new Map<number, Segment>();
  const positions = new Positions();
  const checkpointSeqs = new Set<number>();
  let nextSegmentId = 1;
  let writeFd: number | undefined;
  let checkpointsFd: number | undefined;
  let checkpointsSize = 0;
  let lockFile: string | undefined;
  /** Set while recovering from a failed write: the first seq of the segment that was being written. */
  let rereadFrom: number | undefined;

  const file = (name: string) => path.join(dir, name);

  function addSegment(name: string, firstSeq: number): Segment {
    const segment: Segment = { id: nextSegmentId++, name, firstSeq, lastSeq: 0, lastTime: 0, size: 0, count: 0, readFd: undefined };
    segments.push(segment);
    byId.set(segment.id, segment);
    return segment;
  }

  async function writeNewFileDurably(name: string, data: string | Buffer): Promise<void> {
    const temp = file(`${name}.tmp-${process.pid}`);
    const fd = await fs.open(temp, 'wx');
    try {
      await fs.write(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, 0);
      await fs.datasync(fd);
    } finally {
      await fs.close(fd);
    }
    await rename(temp, file(name));
    await fs.syncDir(dir);
  }

  /** Cuts an incomplete last line, keeping its bytes in a side file for whoever investigates the crash. */
  async function repairTail(name: string, fd: number, goodLength: number, size: number): Promise<void> {
    const torn = Buffer.alloc(size - goodLength);
    await fs.read(fd, torn, goodLength);
    const savedTo = `${name}.${Date.now()}.torn`;
    await writeNewFileDurably(savedTo, torn);
    await fs.truncate(fd, goodLength);
    await fs.datasync(fd);
    emit({ type: 'torn-tail-repaired', segment: name, bytes: torn.length, savedTo });
  }

  let newestHead: string | undefined;
  let retentionHead: string | undefined;

  async function openCheckpoints(): Promise<number> {
    let lastSeq = 0;
    let fd: number;
    try {
      fd = await fs.open(file(CHECKPOINTS_FILE), readOnly ? 'r' : 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || readOnly) return 0;
      fd = await fs.open(file(CHECKPOINTS_FILE), 'wx');
      await fs.syncDir(dir);
    }
    const size = await fs.size(fd);
    const end = await scanLines(fs, fd, 0, size, ({ bytes }) => {
      try {
        const raw = bytes.toString('utf8');
        const checkpoint = (JSON.parse(raw) as { checkpoint?: unknown }).checkpoint;
        const seq = isTreeHead(checkpoint) ? checkpoint.size : (checkpoint as { seq?: unknown } | undefined)?.seq;
        if (typeof seq === 'number') {
          checkpointSeqs.add(seq);
          lastSeq = Math.max(lastSeq, seq);
        }
        if (isTreeHead(checkpoint)) {
          if (checkpoint.typ === RETENTION_TYPE) retentionHead = raw;
          else newestHead = raw;
        }
      } catch {
        // An unreadable checkpoint anchors nothing; verification reports it.
      }
    });
    if (readOnly) {
      await fs.close(fd);
      return lastSeq;
    }
    // A checkpoint cut short by a crash was never relied on: cut it off.
    if (end.tornBytes > 0) await repairTail(CHECKPOINTS_FILE, fd, end.goodLength, size);
    checkpointsFd = fd;
    checkpointsSize = end.goodLength;
    return lastSeq;
  }

  async function readSegment(segment: Segment, isLast: boolean, replay: (record: AuditRecord, line: string) => void, repairTorn = tornTail === 'repair'): Promise<SinkHead | null> {
    const fd = await fs.open(file(segment.name), 'r');
    segment.readFd = fd;
    const size = await fs.size(fd);
    let head: SinkHead | null = null;
    let lastLineBad = false;
    const end = await scanLines(fs, fd, 0, size, ({ bytes, offset, lineNo }) => {
      let record: unknown;
      const text = bytes.toString('utf8');
      try {
        record = JSON.parse(text);
      } catch {
        record = undefined;
      }
      if (!isAuditRecord(record)) {
        lastLineBad = true;
        emit({ type: 'record-unreadable', segment: segment.name, line: lineNo });
        return;
      }
      lastLineBad = false;
      if (!positions.set(record.seq, segment.id, offset, bytes.length)) emit({ type: 'record-unreadable', segment: segment.name, line: lineNo });
      if (segment.count === 0) segment.firstSeq = record.seq;
      segment.count++;
      segment.lastSeq = record.seq;
      segment.lastTime = Math.max(segment.lastTime, Date.parse(record.time) || 0);
      head = { seq: record.seq, hash: record.hash, time: record.time };
      replay(record, text);
    });
    segment.size = end.goodLength;
    if (readOnly) return head;
    if (end.tornBytes > 0) {
      if (!isLast) throw new AuditLogCorruptError(`segment ${segment.name} ends in an incomplete line but is not the last segment`);
      if (!repairTorn) throw new AuditLogCorruptError(`the last segment ${segment.name} ends in an incomplete line`);
      const rw = await fs.open(file(segment.name), 'r+');
      try {
        await repairTail(segment.name, rw, end.goodLength, size);
      } finally {
        await fs.close(rw);
      }
    }
    // Without a readable last record the chain cannot continue; appending would fork it.
    if (isLast && lastLineBad) throw new AuditLogCorruptError(`the last record of segment ${segment.name} is unreadable`);
    return head;
  }

  async function rotate(firstSeq: number): Promise<number> {
    const previous = segments[segments.length - 1]!;
    const name = segmentName(firstSeq);
    const fd = await fs.open(file(name), 'wx');
    try {
      await fs.syncDir(dir);
    } catch (error) {
      await fs.close(fd).catch(() => undefined);
      throw error;
    }
    if (writeFd !== undefined) await fs.close(writeFd).catch(() => undefined);
    writeFd = fd;
    addSegment(name, firstSeq);
    return previous.lastSeq;
  }

  /**
   * After a failed write: forgets every descriptor of the segment being written (its page cache
   * may not match the disk), reads that segment and any newer segment file again from a fresh
   * descriptor, cuts what follows the last acknowledged record (saved aside like a torn tail:
   * never acknowledged), removes segment files that hold nothing acknowledged, checks that the
   * last record on disk is the acknowledged one, and reopens for appending.
   */
  async function recover(expected: SinkHead | null): Promise<void> {
    try {
      await reread(expected);
    } catch (error) {
      // Hold nothing open for writing while failed: an operator can then remount the file system.
      const fds = [writeFd, checkpointsFd];
      writeFd = undefined;
      checkpointsFd = undefined;
      for (const fd of fds) if (fd !== undefined) await fs.close(fd).catch(() => undefined);
      throw error;
    }
  }

  async function reread(expected: SinkHead | null): Promise<void> {
    if (readOnly) throw Object.assign(new Error('the sink is read-only'), { code: 'EROFS' });
    const fds = [writeFd, checkpointsFd];
    writeFd = undefined;
    checkpointsFd = undefined;
    for (const fd of fds) if (fd !== undefined) await fs.close(fd).catch(() => undefined);
    const ackedSeq = expected?.seq ?? 0;
    // Sealed segments were fsynced whole before the segment after them was begun: they stay as
    // read. The segment being written is read again, with any newer segment file (and if an
    // earlier attempt stopped half-way, from the same place).
    rereadFrom ??= segments.length > 0 ? segments[segments.length - 1]!.firstSeq : 1;
    while (segments.length > 0 && segments[segments.length - 1]!.firstSeq >= rereadFrom) {
      const dropped = segments.pop()!;
      byId.delete(dropped.id);
      if (dropped.readFd !== undefined) await fs.close(dropped.readFd).catch(() => undefined);
    }
    const sealedUpTo = segments.length > 0 ? segments[segments.length - 1]!.firstSeq : 0;
    const onDisk = (await listSegments(dir)).filter((f) => f.firstSeq > sealedUpTo).sort((x, y) => x.firstSeq - y.firstSeq);
    for (const found of onDisk) {
      if (found.firstSeq > ackedSeq + 1) {
        // Begun for a batch that was never acknowledged: nothing in it may stay.
        await saveAsideAndRemove(found.name);
        continue;
      }
      const segment = addSegment(found.name, found.firstSeq);
      await readSegment(segment, true, () => undefined, true);
      if (segment.count > 0 && segment.lastSeq > ackedSeq) {
        const first = positions.get(Math.max(ackedSeq + 1, segment.firstSeq));
        const at = first && first.segment === segment.id ? first.offset : 0;
        if (segment.readFd !== undefined) await fs.close(segment.readFd).catch(() => undefined);
        const rw = await fs.open(file(segment.name), 'r+');
        try {
          await repairTail(segment.name, rw, at, await fs.size(rw));
        } finally {
          await fs.close(rw);
        }
        Object.assign(segment, { firstSeq: found.firstSeq, lastSeq: 0, lastTime: 0, size: 0, count: 0, readFd: undefined });
        await readSegment(segment, true, () => undefined, true);
      }
    }
    const problem = (found: number) =>
      new AuditLogCorruptError(`after a failed write the log on disk ends at record ${found}, not at the last acknowledged record ${ackedSeq}`);
    const withRecords = segments.filter((s) => s.count > 0);
    const lastOnDisk = withRecords.length > 0 ? withRecords[withRecords.length - 1]!.lastSeq : 0;
    if (lastOnDisk !== ackedSeq) throw problem(lastOnDisk);
    if (expected) {
      const [last] = await readRecords([ackedSeq]);
      if (!last || last.hash !== expected.hash) throw problem(ackedSeq - 1);
    }
    if (segments.length === 0) {
      const name = segmentName(ackedSeq + 1);
      const fd = await fs.open(file(name), 'wx');
      await fs.close(fd);
      await fs.syncDir(dir);
      addSegment(name, ackedSeq + 1);
    }
    await openCheckpoints();
    writeFd = await fs.open(file(segments[segments.length - 1]!.name), 'r+');
    // Reading works on a full or read-only disk: a page written and fsynced in a probe file
    // shows that appends can succeed again before the log says it is writable.
    const probe = file(`.probe-${process.pid}`);
    await unlink(probe).catch(() => undefined);
    const fd = await fs.open(probe, 'wx');
    try {
      await fs.write(fd, Buffer.alloc(4096, 0x0a), 0);
      await fs.datasync(fd);
    } finally {
      await fs.close(fd);
      await unlink(probe).catch(() => undefined);
    }
    rereadFrom = undefined;
  }

  async function saveAsideAndRemove(name: string): Promise<void> {
    const fd = await fs.open(file(name), 'r');
    let size = 0;
    try {
      size = await fs.size(fd);
      if (size > 0) {
        const bytes = Buffer.alloc(size);
        await fs.read(fd, bytes, 0);
        const savedTo = `${name}.${Date.now()}.torn`;
        await writeNewFileDurably(savedTo, bytes);
        emit({ type: 'torn-tail-repaired', segment: name, bytes: size, savedTo });
      }
    } finally {
      await fs.close(fd);
    }
    await unlink(file(name));
    await fs.syncDir(dir);
  }

  async function readRecords(seqs: readonly number[]): Promise<AuditRecord[]> {
    const records: AuditRecord[] = [];
    for (const seq of seqs) {
      const at = positions.get(seq);
      const segment = at && byId.get(at.segment);
      if (!at || !segment) continue;
      const fd = await readFdOf(segment);
      const bytes = Buffer.allocUnsafe(at.size);
      let got = 0;
      while (got < at.size) {
        const n = await fs.read(fd, bytes.subarray(got), at.offset + got);
        if (n === 0) break;
        got += n;
      }
      if (got < at.size) continue;
      try {
        const record: unknown = JSON.parse(bytes.toString('utf8'));
        if (isAuditRecord(record) && record.seq === seq) records.push(record);
      } catch {
        // A line changed on disk since it was indexed: verification will say how.
      }
    }
    return records;
  }

  async function readFdOf(segment: Segment): Promise<number> {
    segment.readFd ??= await fs.open(file(segment.name), 'r');
    return segment.readFd;
  }

  return {
    async open(request, replay): Promise<AuditSinkState> {
      if (!readOnly) {
        await mkdir(dir, { recursive: true });
        lockFile = await takeLock(dir);
      }
      try {
        let chain: ChainFile | null;
        try {
          chain = await readChainFile(dir);
        } catch {
          throw new AuditLogCorruptError(`${CHAIN_FILE} is unreadable`);
        }
        const found = await listSegments(dir);
        if (!chain) {
          if (found.length > 0 || readOnly) throw new AuditLogCorruptError(`${CHAIN_FILE} is missing`);
          chain = { format: AUDIT_FORMAT, chain: request.chainId, instance: request.instanceId, created: new Date().toISOString(), ...(options.archive ? { archive: true } : {}) };
          await writeNewFileDurably(CHAIN_FILE, JSON.stringify(chain, null, 2) + '\n');
        }
        const lastCheckpointSeq = await openCheckpoints();
        let head: SinkHead | null = null;
        for (let i = 0; i < found.length; i++) {
          const segment = addSegment(found[i]!.name, found[i]!.firstSeq);
          head = (await readSegment(segment, i === found.length - 1, replay)) ?? head;
        }
        if (!readOnly) {
          const active = segments[segments.length - 1];
          if (active) {
            writeFd = await fs.open(file(active.name), 'r+');
          } else {
            const name = segmentName((head?.seq ?? 0) + 1);
            writeFd = await fs.open(file(name), 'wx');
            await fs.syncDir(dir);
            addSegment(name, (head?.seq ?? 0) + 1);
          }
        }
        return { chainId: chain.chain, head, lastCheckpointSeq, ...(newestHead ? { newestHead } : {}), ...(retentionHead ? { retentionHead } : {}) };
      } catch (error) {
        await this.close();
        throw error;
      }
    },

    async append(batch: readonly SinkRecord[]) {
      if (readOnly || writeFd === undefined) throw Object.assign(new Error('the sink is read-only'), { code: 'EROFS' });
      if (batch.length === 0) return {};
      const lines = batch.map((r) => Buffer.from(r.line + '\n', 'utf8'));
      const bytes = lines.reduce((n, b) => n + b.length, 0);
      let active = segments[segments.length - 1]!;
      let sealedThrough: number | undefined;
      if (active.count > 0 && (active.size + bytes > maxBytes || active.count + batch.length > maxRecords)) {
        sealedThrough = await rotate(batch[0]!.seq);
        active = segments[segments.length - 1]!;
      }
      const at = active.size;
      try {
        await fs.write(writeFd, Buffer.concat(lines, bytes), at);
        await fs.datasync(writeFd);
      } catch (error) {
        // Leave no part of the batch behind; if even this fails, reopening repairs the tail.
        await fs.truncate(writeFd, at).catch(() => undefined);
        throw error;
      }
      let offset = at;
      batch.forEach((record, i) => {
        const length = lines[i]!.length - 1;
        positions.set(record.seq, active.id, offset, length);
        offset += length + 1;
      });
      if (active.count === 0) active.firstSeq = batch[0]!.seq;
      active.count += batch.length;
      active.size += bytes;
      active.lastSeq = batch[batch.length - 1]!.seq;
      active.lastTime = Math.max(active.lastTime, Date.parse(batch[batch.length - 1]!.time));
      return sealedThrough === undefined ? {} : { sealedThrough };
    },

    recover,

    async appendCheckpoint({ seq, line }) {
      if (checkpointsFd === undefined) throw Object.assign(new Error('the sink is read-only'), { code: 'EROFS' });
      const data = Buffer.from(line + '\n', 'utf8');
      try {
        await fs.write(checkpointsFd, data, checkpointsSize);
        await fs.datasync(checkpointsFd);
      } catch (error) {
        await fs.truncate(checkpointsFd, checkpointsSize).catch(() => undefined);
        throw error;
      }
      checkpointsSize += data.length;
      checkpointSeqs.add(seq);
    },

    read: readRecords,

    async expire(cutoff, anchor) {
      const removed: string[] = [];
      let through = 0;
      if (anchor) {
        // The log signs a retention record for everything about to go, before anything goes.
        for (let i = 0; i < segments.length - 1 && segments[i]!.lastTime < cutoff.getTime(); i++) through = segments[i]!.count > 0 ? segments[i]!.lastSeq : through;
        if (through === 0) return null;
        await anchor(through);
      }
      // Oldest first and never the active segment, so what remains is always one contiguous run.
      while (segments.length > 1) {
        const oldest = segments[0]!;
        const anchored = oldest.count === 0 || checkpointSeqs.has(oldest.lastSeq) || oldest.lastSeq <= through;
        if (oldest.lastTime >= cutoff.getTime() || !anchored) break;
        if (oldest.readFd !== undefined) await fs.close(oldest.readFd).catch(() => undefined);
        oldest.readFd = undefined;
        await unlink(file(oldest.name));
        segments.shift();
        byId.delete(oldest.id);
        removed.push(oldest.name);
      }
      if (removed.length === 0) return null;
      await fs.syncDir(dir);
      const firstSeq = segments[0]!.firstSeq;
      positions.dropBefore(firstSeq);
      emit({ type: 'segments-removed', segments: removed, firstSeq });
      return firstSeq;
    },

    async close() {
      const fds = [writeFd, checkpointsFd, ...segments.map((s) => s.readFd)];
      writeFd = undefined;
      checkpointsFd = undefined;
      for (const s of segments) s.readFd = undefined;
      for (const fd of fds) if (fd !== undefined) await fs.close(fd).catch(() => undefined);
      if (lockFile) {
        heldLocks.delete(lockFile);
        await unlink(lockFile).catch(() => undefined);
        lockFile = undefined;
      }
    },
  };
}
