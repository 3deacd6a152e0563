/**
 * The on-disk layout of the embedded sink, shared by the sink and by the verifier (which reads
 * the files directly, so that it trusts nothing the writer keeps in memory):
 *
 *   chain.json                     the chain id and format, written once
 *   audit-000000000001.jsonl       segments: one canonical record a line, named by their first seq
 *   checkpoints.jsonl              one signed checkpoint a line
 *   audit-….jsonl.torn             bytes cut from a torn tail when the log was reopened after a crash
 *   LOCK                           the pid of the process appending
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditFs } from './fs';

/** The chain's description file. */
export const CHAIN_FILE = 'chain.json';
/** The signed checkpoints file. */
export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
/** The writer's lock file. */
export const LOCK_FILE = 'LOCK';

const SEGMENT = /^audit-(\d{12})\.jsonl$/;

/** The file name of the segment whose first record is `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `audit-${String(firstSeq).padStart(12, '0')}.jsonl`;
}

/** A segment file and the seq its name says it starts at. */
export interface SegmentFile {
  name: string;
  firstSeq: number;
}

/** The segments of a log directory, oldest first. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const names = await readdir(dir);
  return names
    .map((name) => ({ name, m: SEGMENT.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ name: e.name, firstSeq: Number(e.m[1]) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

/** What `chain.json` holds. */
export interface ChainFile {
  format: string;
  chain: string;
  instance: string;
  created: string;
  /** Set on a copy of an instance's chain kept by the archiver (several instances): its writer is elsewhere, so it holds no lock of its writer. */
  archive?: boolean;
}

/** Reads `chain.json`; `null` when it does not exist. */
export async function readChainFile(dir: string): Promise<ChainFile | null> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHAIN_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const value = JSON.parse(text) as ChainFile;
  if (typeof value?.chain !== 'string' || value.chain.length === 0) throw new SyntaxError('chain.json has no chain id');
  return value;
}

/** Where a line was found, and its bytes (without the newline). */
export interface LineAt {
  bytes: Buffer;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** 1-based line number within the file. */
  lineNo: number;
}

/** What follows the last complete line of a file. */
export interface ScanEnd {
  /** Byte offset just after the last newline: the length the file has if it ends cleanly. */
  goodLength: number;
  /** Bytes after the last newline (a torn tail when non-zero). */
  tornBytes: number;
  /** Complete lines seen. */
  lines: number;
}

const CHUNK = 1 << 20;

/** The complete lines of one read, and (at the end of the file) the incomplete tail. */
export interface LineBatch {
  lines: LineAt[];
  /** Set on the last batch: what follows the last newline. */
  end?: ScanEnd & { torn?: LineAt };
}

/**
 * Yields the complete (newline-terminated) lines of a file from byte `start`, a megabyte read
 * at a time. Newlines are found on bytes: UTF-8 never puts 0x0A inside a multi-byte character,
 * so a line is never split in the middle of a character.
 */
export async function* lineBatches(fs: AuditFs, fd: number, start: number, end: number, startLineNo = 1): AsyncGenerator<LineBatch> {
  let position = start;
  let lineNo = startLineNo;
  let carry: Buffer | null = null;
  let carryOffset = start;
  let count = 0;
  const buffer = Buffer.allocUnsafe(CHUNK);
  while (position < end) {
    const n = await fs.read(fd, buffer.subarray(0, Math.min(CHUNK, end - position)), position);
    if (n === 0) break;
    const chunk = buffer.subarray(0, n);
    const lines: LineAt[] = [];
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl === -1) break;
      if (carry) {
        lines.push({ bytes: Buffer.concat([carry, chunk.subarray(from, nl)]), offset: carryOffset, lineNo: lineNo++ });
        carry = null;
      } else {
        // Copy: the read buffer is reused by the next read, after the consumer has moved on.
        lines.push({ bytes: Buffer.from(chunk.subarray(from, nl)), offset: position + from, lineNo: lineNo++ });
      }
      from = nl + 1;
    }
    if (from < n) {
      const rest = Buffer.from(chunk.subarray(from, n));
      if (carry) carry = Buffer.concat([carry, rest]);
      else {
        carry = rest;
        carryOffset = position + from;
      }
    }
    position += n;
    count += lines.length;
    if (lines.length > 0) yield { lines };
  }
  const tornBytes = carry ? carry.length : 0;
  yield {
    lines: [],
    end: { goodLength: position - tornBytes, tornBytes, lines: count, ...(carry ? { torn: { bytes: carry, offset: carryOffset, lineNo } } : {}) },
  };
}

/** Calls `onLine` for every complete line of a file from byte `start` (see lineBatches); `onLine` may return `false` to stop early. */
export async function scanLines(fs: AuditFs, fd: number, start: number, end: number, onLine: (line: LineAt) => boolean | void): Promise<ScanEnd> {
  for await (const batch of lineBatches(fs, fd, start, end)) {
    for (const line of batch.lines) {
      if (onLine(line) === false) return { goodLength: line.offset + line.bytes.length + 1, tornBytes: 0, lines: line.lineNo };
    }
    if (batch.end) return { goodLength: batch.end.goodLength, tornBytes: batch.end.tornBytes, lines: batch.end.lines };
  }
  return { goodLength: start, tornBytes: 0, lines: 0 };
}
