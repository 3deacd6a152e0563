/**
 * Verification of a log directory: walks the records in storage order, recomputes the chain,
 * checks every checkpoint signature in range, and names the first problem precisely. It reads
 * the files directly and trusts nothing the writer keeps (index, memory).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from './canonical-json';
import { CHECKPOINT_TYPE, headHash, isTreeHead, payloadValue, RETENTION_TYPE, type AuditCheckpoint, type AuditSignatureVerifier, type AuditTreeHead, type CheckpointLine } from './checkpoint';
import { leafHash, MerkleFrontier } from './merkle';
import { nodeAuditFs, type AuditFs } from './fs';
import { AUDIT_RECORD_VERSION, AUDIT_RECORD_VERSIONS, canonicalBody, chainHash, genesisHash, isAuditRecord, type AuditRecord } from './record';
import { CHECKPOINTS_FILE, lineBatches, listSegments, LOCK_FILE, readChainFile, type SegmentFile } from './segments';

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
  | 'UNANCHORED_START'
  /** The oldest records are missing and no signed retention record says they were removed. */
  | 'MISSING_SEGMENTS'
  /** Signed tree heads are missing: a head does not name the one before it, or records lack the head that should cover them. */
  | 'MISSING_HEAD'
  /** A signed tree head's root (or chain hash) differs from the log's tree at that size: records were rewritten. */
  | 'HEAD_MISMATCH'
  /** Records follow the head signed when the hub closed the log, with no head of a later start. */
  | 'RECORDS_AFTER_CLOSE'
  /** A head kept outside the log (a receipt's, the keys directory's, a witness's) is beyond the log's end: a rollback or a cut tail. */
  | 'ROLLED_BACK'
  /** A head kept outside the log belongs to another chain of the instance: the log was replaced or fabricated. */
  | 'FOREIGN_CHAIN';

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
  /** The exact seqs missing or not covered, when the problem is a range. */
  range?: { from: number; to: number };
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
  /** Signed tree heads read (their chain checked; signatures as `checkpoints` counts). */
  heads: number;
  /** The newest signed tree head found valid. */
  newestHead: { size: number; root: string; time: string; instance: string } | null;
  /** Records after the newest head: written in the last moments before a crash (at most about a second's worth). */
  unsigned: { from: number; to: number; spanMs: number } | null;
  /** The head given with `head`, and that the log agrees with it. */
  checkedAgainst: { size: number; time: string } | null;
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
  /** Verifies checkpoint and tree head JWS against the hub's published keys. */
  verify: AuditSignatureVerifier;
  /**
   * A signed tree head kept outside the log (its line, or `{checkpoint, jws}`): from a receipt,
   * a witness, or the hub's keys directory. The log must hold it and agree with it.
   */
  head?: string;
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
  /** The stored line (the Merkle leaf). */
  text?: string;
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
    return { ...item, record: value, body: canonicalBody(value), text };
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

/** The hub signs a tree head at least this often while records arrive. */
export const HEAD_INTERVAL_MS = 1000;
/** What verification allows on top of that for a loaded machine: an unsigned tail may span at most HEAD_INTERVAL_MS + this. */
export const UNSIGNED_GRACE_MS = 2000;

interface HeadEntry {
  head: AuditTreeHead;
  jws: string;
  lineNo: number;
}

interface HeadsFile {
  legacy: CheckpointEntry[];
  heads: HeadEntry[];
  malformed: number[];
  torn: boolean;
}

/** Reads checkpoints.jsonl: legacy checkpoints (sorted by seq), tree heads (in file order), unreadable lines. */
async function readHeads(dir: string): Promise<HeadsFile> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { legacy: [], heads: [], malformed: [], torn: false };
    throw error;
  }
  const lines = text.split('\n');
  // A last line without its newline is a head the writer never finished (it is cut on reopen).
  const torn = lines[lines.length - 1] !== '';
  lines.pop();
  const legacy: CheckpointEntry[] = [];
  const heads: HeadEntry[] = [];
  const malformed: number[] = [];
  lines.forEach((raw, i) => {
    try {
      const line = JSON.parse(raw) as { checkpoint?: unknown; jws?: unknown };
      if (typeof line?.jws !== 'string') throw new SyntaxError('no jws');
      if (isTreeHead(line.checkpoint)) heads.push({ head: line.checkpoint, jws: line.jws, lineNo: i + 1 });
      else if (Number.isSafeInteger((line.checkpoint as AuditCheckpoint | undefined)?.seq)) legacy.push({ seq: (line.checkpoint as AuditCheckpoint).seq, line: line as CheckpointLine, lineNo: i + 1 });
      else throw new SyntaxError('not a checkpoint');
    } catch {
      malformed.push(i + 1);
    }
  });
  legacy.sort((a, b) => a.seq - b.seq || a.lineNo - b.lineNo);
  return { legacy, heads, malformed, torn };
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}

/**
 * Verifies a log directory: the chain of records, the Merkle root of every signed tree head, the
 * heads' own chain (each names the one before, so none can be removed unseen), legacy checkpoints,
 * retention records for removed oldest segments, the unsigned tail, and optionally a head kept
 * outside the log. Names the first problem, with its seq (or range) and place.
 */
export async function verifyAuditLog(options: VerifyAuditLogOptions): Promise<AuditVerifyReport> {
  const fs = options.fs ?? nodeAuditFs;
  const { dir, verify } = options;
  const report: AuditVerifyReport = {
    ok: false,
    chainId: null,
    firstSeq: null,
    lastSeq: null,
    records: 0,
    checkpoints: 0,
    signedThrough: 0,
    problem: null,
    notes: [],
    heads: 0,
    newestHead: null,
    unsigned: null,
    checkedAgainst: null,
  };
  const finish = (problem: AuditProblem | null): AuditVerifyReport => {
    report.problem = problem;
    report.ok = problem === null;
    return report;
  };

  const chain = await readChainFile(dir).catch(() => null);
  if (!chain) return finish({ kind: 'MISSING_CHAIN', seq: 0, file: 'chain.json', message: 'chain.json is missing or unreadable, so the chain cannot be checked' });
  report.chainId = chain.chain;
  const segments = await listSegments(dir);
  const { legacy: checkpoints, heads: allHeads, malformed, torn } = await readHeads(dir);
  if (torn) report.notes.push(`the last line of ${CHECKPOINTS_FILE} is incomplete (a head interrupted by a crash); it is ignored`);
  if (malformed.length > 0) {
    return finish({ kind: 'MALFORMED_CHECKPOINT', seq: 0, file: CHECKPOINTS_FILE, line: malformed[0]!, message: `${CHECKPOINTS_FILE} line ${malformed[0]} is not a signed head` });
  }

  // ---- the heads' own chain, in file order: signature, clear copy, chain, prev ----
  /** The signed payload (as the verifier returns it: a hub signer adds iss and iat, which it strips), or undefined when the signature does not verify. */
  const signedPayload = async (jws: string): Promise<unknown> => {
    try {
      const result = await verify(jws);
      return result?.valid === true ? (payloadValue(result.payload, jws) ?? null) : undefined;
    } catch {
      return undefined;
    }
  };
  // Retention records stand beside the heads' chain: their signatures are checked here, their contents where the walk starts.
  const retentions: HeadEntry[] = [];
  for (const entry of allHeads.filter((h) => h.head.typ === RETENTION_TYPE)) {
    report.checkpoints++;
    const signed = await signedPayload(entry.jws);
    const where = { file: CHECKPOINTS_FILE, line: entry.lineNo };
    if (signed === undefined) return finish({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: entry.head.size, ...where, message: `the retention record at ${CHECKPOINTS_FILE} line ${entry.lineNo} has a signature that does not verify with the hub's keys` });
    if (!sameJson(signed, entry.head) || entry.head.chain !== chain.chain) return finish({ kind: 'CHECKPOINT_MISMATCH', seq: entry.head.size, ...where, message: `the retention record at ${CHECKPOINTS_FILE} line ${entry.lineNo} differs from what was signed, or is of another chain` });
    retentions.push(entry);
  }
  const heads = allHeads.filter((h) => h.head.typ !== RETENTION_TYPE);
  let previous: HeadEntry | undefined;
  for (const entry of heads) {
    const { head, lineNo } = entry;
    const where = { file: CHECKPOINTS_FILE, line: lineNo };
    report.heads++;
    report.checkpoints++;
    const signed = await signedPayload(entry.jws);
    if (signed === undefined) {
      return finish({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: head.size, ...where, message: `the tree head of size ${head.size} (${CHECKPOINTS_FILE} line ${lineNo}) has a signature that does not verify with the hub's keys` });
    }
    if (!sameJson(signed, head)) return finish({ kind: 'CHECKPOINT_MISMATCH', seq: head.size, ...where, message: `the tree head at ${CHECKPOINTS_FILE} line ${lineNo} differs from what was signed` });
    if (head.chain !== chain.chain) return finish({ kind: 'CHECKPOINT_MISMATCH', seq: head.size, ...where, message: `the tree head at ${CHECKPOINTS_FILE} line ${lineNo} belongs to chain ${head.chain}, the log to ${chain.chain}` });
    const expectedPrev = previous ? headHash(previous.jws) : null;
    if (head.prev !== expectedPrev) {
      const range = { from: (previous?.head.size ?? 0) + 1, to: Math.max(head.size, (previous?.head.size ?? 0) + 1) };
      return finish({
        kind: 'MISSING_HEAD',
        seq: range.from,
        range,
        ...where,
        message: previous
          ? `the tree head at ${CHECKPOINTS_FILE} line ${lineNo} (size ${head.size}) does not follow the head at line ${previous.lineNo} (size ${previous.head.size}): heads between them were removed, reordered or duplicated`
          : `the first tree head (${CHECKPOINTS_FILE} line ${lineNo}, size ${head.size}) names a previous head: the heads before it were removed`,
      });
    }
    if (previous && head.size < previous.head.size) {
      return finish({ kind: 'MISSING_HEAD', seq: head.size + 1, ...where, message: `the tree head at ${CHECKPOINTS_FILE} line ${lineNo} (size ${head.size}) is smaller than the one before it (size ${previous.head.size})` });
    }
    previous = entry;
  }
  const newest = heads[heads.length - 1];

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
    if (!sameJson(signed, cp.line.checkpoint) || signed!.typ !== CHECKPOINT_TYPE) return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the checkpoint at seq ${cp.seq} (${CHECKPOINTS_FILE} line ${cp.lineNo}) differs from what was signed` };
    if (signed!.chain !== chain!.chain) return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the checkpoint at seq ${cp.seq} (${CHECKPOINTS_FILE} line ${cp.lineNo}) belongs to another chain` };
    if (logHash !== undefined && signed!.hash !== logHash) {
      return { kind: 'CHECKPOINT_MISMATCH', ...where, message: `the log's hash at seq ${cp.seq} differs from the signed checkpoint (${CHECKPOINTS_FILE} line ${cp.lineNo}): records up to seq ${cp.seq} were rewritten` };
    }
    report.signedThrough = Math.max(report.signedThrough, cp.seq);
    return null;
  }

  // ---- the head kept outside the log ----
  let outside: HeadEntry | undefined;
  if (options.head !== undefined) {
    // A head line ({"checkpoint", "jws"}) or the bare JWS a receipt carries.
    let parsed: { checkpoint?: unknown; jws?: unknown } | undefined;
    const given = options.head.trim();
    try {
      parsed = given.startsWith('{') ? (JSON.parse(given) as { checkpoint?: unknown; jws?: unknown }) : { checkpoint: await signedPayload(given), jws: given };
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed.jws !== 'string' || !isTreeHead(parsed.checkpoint)) {
      return finish({ kind: 'MALFORMED_CHECKPOINT', seq: 0, message: 'the head given to check against is not a signed tree head' });
    }
    const signed = await signedPayload(parsed.jws);
    if (signed === undefined) return finish({ kind: 'BAD_CHECKPOINT_SIGNATURE', seq: parsed.checkpoint.size, message: 'the head given to check against has a signature that does not verify with the hub\'s keys' });
    if (!sameJson(signed, parsed.checkpoint)) return finish({ kind: 'CHECKPOINT_MISMATCH', seq: parsed.checkpoint.size, message: 'the head given to check against differs from what was signed' });
    outside = { head: parsed.checkpoint, jws: parsed.jws, lineNo: 0 };
    const h = outside.head;
    if (h.chain !== chain.chain) {
      return finish({ kind: 'FOREIGN_CHAIN', seq: 1, message: `the head given (instance ${h.instance}, chain ${h.chain}, ${h.size} records, signed ${h.time}) is of another chain than the log (${chain.chain}): the log was replaced, recreated or fabricated` });
    }
  }

  // ---- where the walk starts ----
  let firstHeld: number | undefined;
  for (const segment of segments) {
    for await (const item of walkItems(fs, dir, [segment], 0)) {
      firstHeld = item.record?.seq ?? segment.firstSeq;
      break;
    }
    if (firstHeld !== undefined) break;
  }
  const maxHeadSize = Math.max(newest?.head.size ?? 0, ...checkpoints.map((c) => c.seq));
  if (firstHeld === undefined) {
    if (maxHeadSize > 0 && options.to === undefined) {
      const newestLegacy = checkpoints[checkpoints.length - 1];
      if (newestLegacy && newestLegacy.seq === maxHeadSize) {
        const bad = await checkCheckpoint(newestLegacy);
        if (bad) return finish(bad);
      }
      return finish({ kind: 'TRUNCATED_TAIL', seq: 1, range: { from: 1, to: maxHeadSize }, file: CHECKPOINTS_FILE, message: `signed heads attest ${maxHeadSize} records but the log holds none: records 1 to ${maxHeadSize} were removed` });
    }
    if (outside && outside.head.size > 0) {
      return finish({ kind: 'ROLLED_BACK', seq: 1, range: { from: 1, to: outside.head.size }, message: `the head given (signed ${outside.head.time}) covers ${outside.head.size} records but the log holds none` });
    }
    if (newest) report.newestHead = { size: newest.head.size, root: newest.head.root, time: newest.head.time, instance: newest.head.instance };
    return finish(null);
  }
  const wanted = Math.max(options.from ?? firstHeld, firstHeld);
  let expected: number;
  let prevHash: string;
  let frontier: MerkleFrontier | undefined;
  const retention = retentions.filter((h) => h.head.prunedThrough === firstHeld! - 1).pop();
  const anchor = checkpoints.filter((c) => c.seq >= firstHeld! - 1 && c.seq <= wanted - 1 && c.seq > 0).pop();
  if (firstHeld === 1) {
    expected = 1;
    prevHash = genesisHash(chain.chain);
    frontier = new MerkleFrontier();
  } else if (retention && retention.head.prunedHash && retention.head.frontier) {
    expected = firstHeld;
    prevHash = retention.head.prunedHash;
    try {
      frontier = new MerkleFrontier({ size: firstHeld - 1, frontier: retention.head.frontier.map((h) => Buffer.from(h, 'base64url')) });
    } catch {
      return finish({ kind: 'CHECKPOINT_MISMATCH', seq: firstHeld - 1, file: CHECKPOINTS_FILE, line: retention.lineNo, message: `the retention record at ${CHECKPOINTS_FILE} line ${retention.lineNo} has a frontier of the wrong shape` });
    }
    report.notes.push(`records 1 to ${firstHeld - 1} were removed by retention (signed ${retention.head.time})`);
  } else if (anchor && heads.length === 0) {
    // A log written before tree heads, whose oldest segments retention removed under a checkpoint.
    const bad = await checkCheckpoint(anchor);
    if (bad) return finish(bad);
    expected = anchor.seq + 1;
    prevHash = anchor.line.checkpoint.hash;
  } else {
    return finish({
      kind: 'MISSING_SEGMENTS',
      seq: 1,
      range: { from: 1, to: firstHeld - 1 },
      message: `records 1 to ${firstHeld - 1} are missing (the oldest segments were removed) and no signed retention record says they were pruned`,
    });
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

  // Heads to check against the tree, by size (the outside head too); sizes before the walk's start cannot be checked.
  const bySize = [...heads, ...(outside ? [outside] : [])].filter((h) => h.head.size >= startSeq - 1).sort((a, b) => a.head.size - b.head.size);
  let headIndex = 0;
  const checkHeadsAt = (size: number, hash: string): AuditProblem | null => {
    for (; headIndex < bySize.length && bySize[headIndex]!.head.size === size; headIndex++) {
      const entry = bySize[headIndex]!;
      const root = frontier?.root().toString('base64url');
      if (entry.head.root !== root || entry.head.hash !== hash) {
        const what = entry.lineNo === 0 ? 'the head given' : `the tree head at ${CHECKPOINTS_FILE} line ${entry.lineNo}`;
        return {
          kind: 'HEAD_MISMATCH',
          seq: size,
          ...(entry.lineNo === 0 ? {} : { file: CHECKPOINTS_FILE, line: entry.lineNo }),
          message: `the log's records 1 to ${size} differ from ${what} (signed ${entry.head.time}): records up to seq ${size} were rewritten`,
        };
      }
      if (entry.lineNo !== 0) report.signedThrough = Math.max(report.signedThrough, size);
    }
    return null;
  };
  {
    const bad = checkHeadsAt(startSeq - 1, prevHash);
    if (bad) return finish(bad);
  }

  let cpIndex = checkpoints.findIndex((c) => c.seq >= startSeq);
  if (cpIndex === -1) cpIndex = checkpoints.length;
  let beforePrev: string | undefined;
  let previousItem: Item | undefined;
  let started = false;
  let sawNewFormat = false;
  const times: number[] = [];
  const iterator = walkItems(fs, dir, segments, startSegment);
  let next = (await iterator.next()).value as Item | undefined;

  while (next) {
    const item = next;
    next = (await iterator.next()).value as Item | undefined;
    bytes = before[item.segmentIndex]! - (before[startSegment] ?? 0) + item.offset + item.length;
    if (!started) {
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
        // A version 3 record names the hash of the one before: intact itself but naming another
        // predecessor, it shows that the record before was changed and its hash recomputed.
        if (typeof r.prev === 'string' && r.prev !== prevHash && links(r.prev, item) && previousItem) {
          return finish({ kind: 'HASH_MISMATCH', seq: e - 1, ...at(previousItem), message: `hash mismatch at seq ${e - 1} (${place(previousItem)}): the record was changed and its hash recomputed (seq ${e} names its original hash)` });
        }
        return finish({ kind: 'HASH_MISMATCH', seq: e, ...at(item), message: `hash mismatch at seq ${e} (${place(item)}): the record was changed` });
      }
    } else if (r.seq < e) {
      if (previousItem?.text !== undefined && item.text === previousItem.text) {
        return finish({ kind: 'INSERTED_RECORD', seq: r.seq, ...at(item), message: `record ${r.seq} appears twice: the copy at ${place(item)} was inserted` });
      }
      if (r.seq === e - 1 && beforePrev !== undefined && previousItem && links(beforePrev, item)) {
        return finish({ kind: 'INSERTED_RECORD', seq: e - 1, ...at(previousItem), message: `the record at ${place(previousItem)} was inserted: the next record also continues the chain from seq ${e - 2}` });
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
      return finish({ kind: 'SEQUENCE_GAP', seq: e, range: { from: e, to: r.seq - 1 }, ...at(item), message: `${missing} missing after seq ${e - 1}: records were deleted before ${place(item)}` });
    }
    // The record belongs: advance the chain and the tree, then check what attests it.
    beforePrev = prevHash;
    prevHash = r.hash;
    previousItem = item;
    expected = e + 1;
    frontier?.push(leafHash(item.text!));
    if (r.v === AUDIT_RECORD_VERSION) sawNewFormat = true;
    if (e > maxHeadSize) times.push(Date.parse(r.time));
    report.records++;
    report.firstSeq ??= e;
    report.lastSeq = e;
    const bad = checkHeadsAt(e, r.hash);
    if (bad) return finish(bad);
    while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq <= e) {
      const cp = checkpoints[cpIndex++]!;
      const problem = await checkCheckpoint(cp, cp.seq === e ? r.hash : undefined);
      if (problem) return finish(problem);
    }
    if (report.records % 10_000 === 0) progress();
  }
  progress();
  const lastSeq = expected - 1;
  if (options.to === undefined) {
    // Signed statements beyond the log's end: records were cut off (or the log rolled back).
    if (outside && outside.head.size > lastSeq) {
      return finish({ kind: 'ROLLED_BACK', seq: lastSeq + 1, range: { from: lastSeq + 1, to: outside.head.size }, message: `the head given (signed ${outside.head.time}) covers ${outside.head.size} records but the log ends at seq ${lastSeq}: records ${lastSeq + 1} to ${outside.head.size} are missing (a rollback or a cut tail)` });
    }
    if (newest && newest.head.size > lastSeq) {
      return finish({ kind: 'TRUNCATED_TAIL', seq: lastSeq + 1, range: { from: lastSeq + 1, to: newest.head.size }, file: CHECKPOINTS_FILE, line: newest.lineNo, message: `a signed tree head (${CHECKPOINTS_FILE} line ${newest.lineNo}) covers ${newest.head.size} records but the log ends at seq ${lastSeq}: records ${lastSeq + 1} to ${newest.head.size} were removed` });
    }
    for (; cpIndex < checkpoints.length; cpIndex++) {
      const cp = checkpoints[cpIndex]!;
      const bad = await checkCheckpoint(cp);
      if (bad) return finish(bad);
      return finish({ kind: 'TRUNCATED_TAIL', seq: lastSeq + 1, range: { from: lastSeq + 1, to: cp.seq }, file: CHECKPOINTS_FILE, line: cp.lineNo, message: `a signed checkpoint attests seq ${cp.seq} but the log ends at seq ${lastSeq}: records after it were removed` });
    }
  }
  if (outside) {
    if (!heads.some((h) => h.jws === outside!.jws)) {
      return finish({ kind: 'MISSING_HEAD', seq: outside.head.size, message: `the head given (size ${outside.head.size}, signed ${outside.head.time}) is not among the log's heads: heads were removed from ${CHECKPOINTS_FILE}` });
    }
    report.checkedAgainst = { size: outside.head.size, time: outside.head.time };
  }
  if (newest) report.newestHead = { size: newest.head.size, root: newest.head.root, time: newest.head.time, instance: newest.head.instance };

  // ---- coverage: every record is under a signed statement, except an unsigned tail of about a second ----
  const signedSize = Math.max(newest?.head.size ?? 0, report.signedThrough);
  if (report.lastSeq !== null && report.lastSeq > signedSize && options.to === undefined) {
    const from = signedSize + 1;
    const range = { from, to: report.lastSeq };
    if (heads.length === 0 && checkpoints.length === 0) {
      return finish({ kind: 'MISSING_HEAD', seq: from, range, message: `no signed head or checkpoint covers records ${from} to ${report.lastSeq}: the heads were removed, or the log was not written by this hub` });
    }
    if (sawNewFormat || heads.length > 0) {
      // A hub holds LOCK while it writes and removes it only after signing its closing head; a
      // crash leaves LOCK behind. No LOCK and no closing head means the closing head was removed.
      const closedCleanly = !chain.archive && !(await access(path.join(dir, LOCK_FILE)).then(() => true, () => false));
      if (closedCleanly && !(newest && newest.head.reason === 'close')) {
        return finish({ kind: 'MISSING_HEAD', seq: from, range, message: `records ${from} to ${report.lastSeq} are not covered by a signed tree head, though the log was closed (it holds no LOCK, which a hub keeps until it has signed its closing head): the closing head was removed` });
      }
      if (newest && newest.head.reason === 'close') {
        return finish({ kind: 'RECORDS_AFTER_CLOSE', seq: from, range, file: CHECKPOINTS_FILE, line: newest.lineNo, message: `records ${from} to ${report.lastSeq} follow the head the hub signed when it closed the log (${CHECKPOINTS_FILE} line ${newest.lineNo}), with no head of a later start: they were appended afterwards` });
      }
      const spanMs = times.length > 0 ? times[times.length - 1]! - times[0]! : 0;
      if (!(spanMs <= HEAD_INTERVAL_MS + UNSIGNED_GRACE_MS)) {
        return finish({ kind: 'MISSING_HEAD', seq: from, range, message: `records ${from} to ${report.lastSeq} span ${Math.round(spanMs)} ms without a signed tree head, though the hub signs one every second: heads were removed` });
      }
      report.unsigned = { from, to: report.lastSeq, spanMs };
      report.notes.push(`records ${from} to ${report.lastSeq} (${Math.round(spanMs)} ms of records) are chained but not covered by a signed tree head: the hub stopped before its next head (a crash), or the head after them was removed; check them against a later head (--head) to be sure`);
    } else {
      report.notes.push(
        report.signedThrough === 0
          ? 'no record is covered by a signed checkpoint yet: the records are chained but unsigned'
          : `records after seq ${report.signedThrough} are chained but not yet covered by a signed checkpoint`,
      );
    }
  }
  return finish(null);
}
