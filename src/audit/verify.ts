/**
 * Verification of a log directory: walks the records in storage order, recomputes the chain,
 * checks every checkpoint signature in range, and names the first problem precisely. It reads
 * the files directly and trusts nothing the writer keeps (index, memory).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from './canonical-json';
import { CHECKPOINT_TYPE, payloadValue, type AuditCheckpoint, type AuditSignatureVerifier, type CheckpointLine } from './checkpoint';
import { nodeAuditFs, type AuditFs } from './fs';
import { AUDIT_RECORD_VERSIONS, canonicalBody, chainHash, genesisHash, isAuditRecord, type AuditRecord } from './record';
import { CHECKPOINTS_FILE, lineBatches, listSegments, readChainFile, type SegmentFile } from './segments';

/** The kinds of problem verification names. */
export type AuditProblemKind =
  /** chain.json is missing or unreadable: nothing can be checked. */
  | 'MISSING_CHAIN'
  /** A line is not a canonical record (a changed byte broke its JSON or its canonical form). */
  | 'MALFORMED_RECORD'
  /** A record's content no longer matches its hash (a changed byte). */
  | 'HASH_MISMATCH'
  /** Records are missing (deleted). */
  | 'SEQUENCE_GAP'
  /** A record that does not belong in the chain sits between two that do. */
  | 'INSERTED_RECORD'
  /** A record appears later than a record with a higher seq. */
  | 'REORDERED_RECORDS'
  /** The log ends early: its last line is incomplete, or a checkpoint attests records it no longer holds. */
  | 'TRUNCATED_TAIL'
  /** A checkpoint's signature does not verify. */
  | 'BAD_CHECKPOINT_SIGNATURE'
  /** A validly signed checkpoint disagrees with the log (another chain, or a rewritten record before it). */
  | 'CHECKPOINT_MISMATCH'
  /** A checkpoint line is unreadable. */
  | 'MALFORMED_CHECKPOINT'
  /** Old segments were removed and no checkpoint anchors the first record left. */
  | 'UNANCHORED_START';

/** The first problem found, and where. */
export interface AuditProblem {
  kind: AuditProblemKind;
  /** The first seq that is wrong or missing (for a checkpoint problem: the seq it attests). */
  seq: number;
  /** The file the problem is in (a segment or checkpoints.jsonl). */
  file?: string;
  /** The 1-based line in that file. */
  line?: number;
  /** What is wrong, for people (no record values). */
  message: string;
}

/** The outcome of verifying a log directory. */
export interface AuditVerifyReport {
  ok: boolean;
  chainId: string | null;
  /** The first and last seq whose records were verified (null when none). */
  firstSeq: number | null;
  lastSeq: number | null;
  /** Records whose chain link was checked. */
  records: number;
  /** Checkpoints whose signature was checked. */
  checkpoints: number;
  /** The newest verified checkpoint's seq (0 when none): records after it are chained but not yet signed. */
  signedThrough: number;
  problem: AuditProblem | null;
  /** Findings that are not problems (an unfinished checkpoint line after a crash, unsigned recent records). */
  notes: string[];
}

/** How far verification has got. */
export interface AuditVerifyProgress {
  records: number;
  bytes: number;
  totalBytes: number;
}

/** What to verify and how signatures are checked. */
export interface VerifyAuditLogOptions {
  dir: string;
  /** First seq to verify (verification starts at the nearest signed checkpoint before it). @default the first record held */
  from?: number;
  /** Last seq to verify; a truncated tail beyond it is not looked for. @default the end of the log */
  to?: number;
  /** Verifies checkpoint JWS against the hub's published keys. */
  verify: AuditSignatureVerifier;
  /** Called every 10 000 records and at the end. */
  onProgress?: (progress: AuditVerifyProgress) => void;
  /** @default the real file system */
  fs?: AuditFs;
}

interface CheckpointEntry {
  seq: number;
  line: CheckpointLine;
  lineNo: number;
}

interface Item {
  segment: string;
  segmentIndex: number;
  lineNo: number;
  offset: number;
  length: number;
  /** The incomplete last line of a segment. */
  torn: boolean;
  /** True for the final line of the final segment. */
  last: boolean;
  record?: AuditRecord;
  /** Canonical bytes the hash covers. */
  body?: string;
  /** Why the line is not a record. */
  bad?: string;
  /** The line is a record of a format version this code does not know (`bad` says so in full). */
  unknownVersion?: boolean;
}

function parseItem(item: Item, text: string): Item {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ...item, bad: 'is not valid JSON' };
  }
  if (!isAuditRecord(value)) return { ...item, bad: 'is not an audit record' };
  // Both record versions chain the same way (the hash covers whatever fields the line holds); a version this code does not know is named as such.
  if (!(AUDIT_RECORD_VERSIONS as readonly unknown[]).includes(value.v)) return { ...item, bad: `has a record format version this verifier does not know (${JSON.stringify(value.v)?.slice(0, 16)}): a newer hub wrote it, or bytes were changed`, unknownVersion: true };
  try {
    if (canonicalJson(value) !== text) return { ...item, bad: 'is not in canonical form' };
    return { ...item, record: value, body: canonicalBody(value) };
  } catch {
    return { ...item, bad: 'is not canonical JSON' };
  }
}

async function* walkItems(fs: AuditFs, dir: string, segments: readonly SegmentFile[], from: number): AsyncGenerator<Item> {
  for (let s = from; s < segments.length; s++) {
    const name = segments[s]!.name;
    const fd = await fs.open(path.join(dir, name), 'r');
    try {
      const size = await fs.size(fd);
      let pending: Item | undefined;
      for await (const batch of lineBatches(fs, fd, 0, size)) {
        for (const line of batch.lines) {
          if (pending) yield pending;
          pending = parseItem({ segment: name, segmentIndex: s, lineNo: line.lineNo, offset: line.offset, length: line.bytes.length + 1, torn: false, last: false }, line.bytes.toString('utf8'));
        }
        if (batch.end?.torn) {
          if (pending) yield pending;
          const t = batch.end.torn;
          pending = { segment: name, segmentIndex: s, lineNo: t.lineNo, offset: t.offset, length: t.bytes.length, torn: true, last: false, bad: 'is incomplete' };
        }
      }
      if (pending) yield { ...pending, last: s === segments.length - 1 };
    } finally {
      await fs.close(fd);
    }
  }
}

async function readCheckpoints(dir: string): Promise<{ entries: CheckpointEntry[]; malformed: number[]; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], malformed: [], torn: false };
    throw error;
  }
  const lines = text.split('\n');
  // A last line without its newline is a checkpoint the writer never finished (it is re-signed on reopen).
  const torn = lines[lines.length - 1] !== '';
  lines.pop();
  const entries: CheckpointEntry[] = [];
  const malformed: number[] = [];
  lines.forEach((raw, i) => {
    try {
      const line = JSON.parse(raw) as CheckpointLine;
      if (!Number.isSafeInteger(line?.checkpoint?.seq) || typeof line.jws !== 'string') throw new SyntaxError('not a checkpoint');
      entries.push({ seq: line.checkpoint.seq, line, lineNo: i + 1 });
    } catch {
      malformed.push(i + 1);
    }
  });
  entries.sort((a, b) => a.seq - b.seq || a.lineNo - b.lineNo);
  return { entries, malformed, torn };
}

/** Verifies a log directory: the chain, every checkpoint signature in range, and the tail; names the first problem. */
export async function verifyAuditLog(options: VerifyAuditLogOptions): Promise<AuditVerifyReport> {
  const fs = options.fs ?? nodeAuditFs;
  const { dir, verify } = options;
  const report: AuditVerifyReport = { ok: false, chainId: null, firstSeq: null, lastSeq: null, records: 0, checkpoints: 0, signedThrough: 0, problem: null, notes: [] };
  const finish = (problem: AuditProblem | null): AuditVerifyReport => {
    report.problem = problem;
    report.ok = problem === null;
    return report;
  };

  const chain = await readChainFile(dir).catch(() => null);
  if (!chain) return finish({ kind: 'MISSING_CHAIN', seq: 0, file: 'chain.json', message: 'chain.json is missing or unreadable, so the chain cannot be checked' });
  report.chainId = chain.chain;
  const segments = await listSegments(dir);
  const { entries: checkpoints, malformed, torn } = await readCheckpoints(dir);
  if (torn) report.notes.push(`the last line of ${CHECKPOINTS_FILE} is incomplete (a checkpoint interrupted by a crash); it is ignored`);

  async function checkCheckpoint(cp: CheckpointEntry, logHash?: string): Promise<AuditProblem | null> {
    const where = { seq: cp.seq, file: CHECKPOINTS_FILE, line: cp.lineNo };
    let result;
    try {
      result = await verify(cp.line.jws);
    } catch {
      result = { valid: false };
    }
    report.checkpoints++;
    if (!result?.valid) return { kind: 'BAD_CHECKPOINT_SIGNATURE', ...where, message: `the checkpoint at seq ${cp.seq} (${CHECKPOINTS_FILE} line ${cp.lineNo}) has a bad signature` };
    const signed = payloadValue(result.payload, cp.line.jws) as AuditCheckpoint | undefined;
    let same = false;
    try {
      same = signed !== undefined && canonicalJson(signed) === canonicalJson(cp.line.checkpoint);
    } catch {
      same = false;
    }
    if (!same || signed!.typ !== CHECKPOINT_TYPE) return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the checkpoint at seq ${cp.seq} (${CHECKPOINTS_FILE} line ${cp.lineNo}) differs from what was signed` };
    if (signed!.chain !== chain!.chain) return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the checkpoint at seq ${cp.seq} (${CHECKPOINTS_FILE} line ${cp.lineNo}) belongs to another chain` };
    if (logHash !== undefined && signed!.hash !== logHash) {
      return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the log's hash at seq ${cp.seq} differs from the signed checkpoint (${CHECKPOINTS_FILE} line ${cp.lineNo}): records up to seq ${cp.seq} were rewritten` };
    }
    report.signedThrough = Math.max(report.signedThrough, cp.seq);
    return null;
  }

  // Where does the walk start, and which hash does it start from?
  let firstHeld: number | undefined;
  for (const segment of segments) {
    for await (const item of walkItems(fs, dir, [segment], 0)) {
      firstHeld = item.record?.seq ?? segment.firstSeq;
      break;
    }
    if (firstHeld !== undefined) break;
  }
  if (firstHeld === undefined) {
    const beyond = checkpoints.find((c) => c.seq > 0);
    if (beyond && options.to === undefined) {
      const bad = await checkCheckpoint(beyond);
      return finish(bad ?? { kind: 'TRUNCATED_TAIL', seq: 1, file: CHECKPOINTS_FILE, line: beyond.lineNo, message: `a signed checkpoint attests seq ${beyond.seq} but the log holds no records` });
    }
    return finish(null);
  }
  const wanted = Math.max(options.from ?? firstHeld, firstHeld);
  let expected: number;
  let prevHash: string;
  const anchor = checkpoints.filter((c) => c.seq >= firstHeld! - 1 && c.seq <= wanted - 1 && c.seq > 0).pop();
  if (anchor) {
    const bad = await checkCheckpoint(anchor);
    if (bad) return finish(bad);
    expected = anchor.seq + 1;
    prevHash = anchor.line.checkpoint.hash;
  } else if (firstHeld === 1) {
    expected = 1;
    prevHash = genesisHash(chain.chain);
  } else {
    return finish({ kind: 'UNANCHORED_START', seq: firstHeld, message: `records before seq ${firstHeld} were removed and no signed checkpoint anchors seq ${firstHeld - 1}` });
  }
  const startSeq = expected;
  let startSegment = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.firstSeq <= startSeq) startSegment = i;

  // Bytes before each segment, so that progress counts across segments.
  const before: number[] = [];
  let totalBytes = 0;
  for (let i = 0; i < segments.length; i++) {
    before[i] = totalBytes;
    if (i < startSegment) continue;
    try {
      const fd = await fs.open(path.join(dir, segments[i]!.name), 'r');
      totalBytes += await fs.size(fd);
      await fs.close(fd);
    } catch {
      // Counted as zero: progress is an estimate.
    }
  }
  totalBytes -= before[startSegment] ?? 0;
  let bytes = 0;
  const progress = () => options.onProgress?.({ records: report.records, bytes, totalBytes });

  const links = (hash: string, item: Item | undefined): boolean => !!item?.record && chainHash(hash, item.body!) === item.record.hash;
  const at = (item: Item) => ({ file: item.segment, line: item.lineNo });
  const place = (item: Item) => `${item.segment} line ${item.lineNo}`;

  async function findAhead(seq: number, from: Item): Promise<Item | undefined> {
    let seen = 0;
    for await (const item of walkItems(fs, dir, segments, from.segmentIndex)) {
      if (item.segmentIndex === from.segmentIndex && item.lineNo <= from.lineNo) continue;
      if (item.record?.seq === seq) return item;
      if (++seen > 1_000_000) return undefined;
    }
    return undefined;
  }

  let cpIndex = checkpoints.findIndex((c) => c.seq >= startSeq);
  if (cpIndex === -1) cpIndex = checkpoints.length;
  let beforePrev: string | undefined;
  let previous: Item | undefined;
  let started = false;
  const iterator = walkItems(fs, dir, segments, startSegment);
  let next = (await iterator.next()).value as Item | undefined;

  while (next) {
    const item = next;
    next = (await iterator.next()).value as Item | undefined;
    bytes = before[item.segmentIndex]! - (before[startSegment] ?? 0) + item.offset + item.length;
    if (!started) {
      // Lines before the anchor belong to the checkpoint's past: skip them.
      if (item.record && item.record.seq < startSeq) continue;
      started = true;
    }
    if (options.to !== undefined && expected > options.to) break;
    const e = expected;
    if (item.torn && item.last) {
      return finish({ kind: 'TRUNCATED_TAIL', seq: e, ...at(item), message: `the last line of ${item.segment} (line ${item.lineNo}) is incomplete: the log ends after seq ${e - 1} with a torn record` });
    }
    if (!item.record) {
      return finish({ kind: 'MALFORMED_RECORD', seq: e, ...at(item), message: `the line where seq ${e} belongs (${place(item)}) ${item.bad}${item.unknownVersion ? '' : ': bytes were changed'}` });
    }
    const r = item.record;
    if (r.seq === e) {
      if (!links(prevHash, item)) {
        if (next?.record?.seq === e && links(prevHash, next)) {
          return finish({ kind: 'INSERTED_RECORD', seq: e, ...at(item), message: `a record claiming seq ${e} was inserted at ${place(item)}, before the real seq ${e}` });
        }
        return finish({ kind: 'HASH_MISMATCH', seq: e, ...at(item), message: `hash mismatch at seq ${e} (${place(item)}): the record was changed` });
      }
    } else if (r.seq < e) {
      if (r.seq === e - 1 && beforePrev !== undefined && previous && links(beforePrev, item)) {
        return finish({ kind: 'INSERTED_RECORD', seq: e - 1, ...at(previous), message: `the record at ${place(previous)} was inserted: the next record also continues the chain from seq ${e - 2}` });
      }
      return finish({ kind: 'INSERTED_RECORD', seq: e, ...at(item), message: `a record claiming seq ${r.seq} was inserted at ${place(item)}, after seq ${e - 1}` });
    } else {
      if (next?.record?.seq === e + 1 && links(r.hash, next)) {
        return finish({ kind: 'HASH_MISMATCH', seq: e, ...at(item), message: `hash mismatch at seq ${e} (${place(item)}): the record was changed (its seq reads ${r.seq})` });
      }
      const later = await findAhead(e, item);
      if (later) {
        return finish({ kind: 'REORDERED_RECORDS', seq: e, ...at(later), message: `seq ${e} appears at ${place(later)}, after seq ${r.seq} (${place(item)}): records were reordered` });
      }
      const missing = r.seq - 1 === e ? `seq ${e} is` : `seqs ${e} to ${r.seq - 1} are`;
      return finish({ kind: 'SEQUENCE_GAP', seq: e, ...at(item), message: `${missing} missing after seq ${e - 1}: records were deleted before ${place(item)}` });
    }
    // The record belongs: advance, then check the checkpoints that attest it.
    beforePrev = prevHash;
    prevHash = r.hash;
    previous = item;
    expected = e + 1;
    report.records++;
    report.firstSeq ??= e;
    report.lastSeq = e;
    while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq <= e) {
      const cp = checkpoints[cpIndex++]!;
      const bad = await checkCheckpoint(cp, cp.seq === e ? r.hash : undefined);
      if (bad) return finish(bad);
    }
    if (report.records % 10_000 === 0) progress();
  }
  progress();
  if (options.to === undefined) {
    const lastSeq = expected - 1;
    for (; cpIndex < checkpoints.length; cpIndex++) {
      const cp = checkpoints[cpIndex]!;
      const bad = await checkCheckpoint(cp);
      if (bad) return finish(bad);
      return finish({ kind: 'TRUNCATED_TAIL', seq: lastSeq + 1, file: CHECKPOINTS_FILE, line: cp.lineNo, message: `a signed checkpoint attests seq ${cp.seq} but the log ends at seq ${lastSeq}: records after it were removed` });
    }
  }
  if (malformed.length > 0) {
    return finish({ kind: 'MALFORMED_CHECKPOINT', seq: 0, file: CHECKPOINTS_FILE, line: malformed[0]!, message: `${CHECKPOINTS_FILE} line ${malformed[0]} is not a checkpoint` });
  }
  if (report.lastSeq !== null && report.lastSeq > report.signedThrough) {
    report.notes.push(
      report.signedThrough === 0
        ? 'no record is covered by a signed checkpoint yet: the records are chained but unsigned'
        : `records after seq ${report.signedThrough} are chained but not yet covered by a signed checkpoint`,
    );
  }
  return finish(null);
}
