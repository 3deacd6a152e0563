/**
 * The audit log: one hash-chained record per request, durable before the reply leaves
 * (group commit: one write and one fsync per batch of concurrent appends), signed checkpoints,
 * and the index behind the auditor and citizen queries.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open as openFile, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { BadUserInputError } from '../sdk';
import { AccessIndex, term } from './access-index';
import { canonicalJson } from './canonical-json';
import { checkTreeHeadLine, headHash, parseTreeHeadLine, retentionRecord, signTreeHead, TREE_HEAD_TYPE, type AuditSignatureVerifier, type AuditSigner, type AuditTreeHead } from './checkpoint';
import { AuditLogCorruptError, AuditOptionsError, AuditUnavailableError, unavailableReasonOf, type AuditUnavailableReason } from './errors';
import { HashColumn, leafHash, MerkleTree, PrunedRangeError } from './merkle';
import { createFileSink, DEFAULT_FILE_SINK_OPTIONS } from './file-sink';
import type { AuditFs } from './fs';
import {
  AUDIT_OUTCOMES,
  AUDIT_RECORD_VERSION,
  canonicalBody,
  canonicalRecordTexts,
  chainHash,
  createSubjectKeyer,
  genesisHash,
  SUBJECT_KINDS,
  toStoredBody,
  type AuditOutcome,
  type AuditRecord,
  type AuditRecordInput,
  type SubjectKeyer,
  type SubjectRef,
} from './record';
import { cursorText, disclosureRules, MAX_PAGE_SIZE, pageSize, recordMatches, timeArgument, withheldBy, type DisclosureRule, type Rule } from './query';
import type { AuditLogEvent, AuditSink, SinkHead } from './sink';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './query';
export type { DisclosureRule } from './query';

/** Settings of a log opened read-only (queries and export). */
export interface AuditLogReaderOptions {
  /** The log directory of the embedded sink. */
  dir: string;
  /** The hub secret that keys subject identifiers (HMAC-SHA256, at least 32 bytes); the same for the whole life of the log. */
  subjectKeySecret: Uint8Array | string;
  /** Purpose codes whose accesses the citizen view withholds until their rule allows. @default {} */
  confidentialPurposes?: Readonly<Record<string, DisclosureRule>>;
  /** Another sink instead of the embedded one. */
  sink?: AuditSink;
  /** @default the real file system */
  fs?: AuditFs;
  /** @default () => new Date() */
  now?: () => Date;
  /** Hears repairs, write failures, checkpoint failures and removed segments (for the hub's log; never record values). */
  onEvent?: (event: AuditLogEvent) => void;
}

/** Settings of the log the hub appends to. */
export interface AuditLogOptions extends AuditLogReaderOptions {
  /** This hub instance, written into every record. */
  instanceId: string;
  /** Signs tree heads as compact JWS (the seal module's hub key). */
  sign: AuditSigner;
  /** Verifies the newest stored head (and the head kept outside the log) before anything is signed at open. */
  verify?: AuditSignatureVerifier;
  /**
   * A file outside the log directory (the hub's keys directory) that always holds the newest
   * signed head: a log deleted whole, replaced or rolled back is then refused at open.
   */
  headFile?: string;
  /**
   * What to do when the head kept in `headFile` belongs to another chain than the log (or the
   * log is gone): `refuse` (default), or `record`: start the log's chain with a head that records
   * the break as evidence (for a shared store that lost its data, and for `datarun audit new-chain`).
   */
  onChainBreak?: 'refuse' | 'record';
  /** Why a break is recorded (in the new chain's first head). */
  breakReason?: string;
  /** The chain's name, used only when the directory holds no log yet. @default `${instanceId}/${randomUUID()}` */
  chainId?: string;
  /** Sign a tree head after this many records. @default 1000 */
  checkpointEveryRecords?: number;
  /** Sign a tree head this often while records arrive, in milliseconds (100 to 1000: the unsigned window is at most a second). @default 1000 */
  checkpointEveryMs?: number;
  /** @default 67108864 (64 MiB) */
  segmentMaxBytes?: number;
  /** @default 100000 */
  segmentMaxRecords?: number;
  /** Whole segments whose newest record is older than this are removed (网络安全法 asks for at least six months). @default 180 */
  retentionDays?: number;
  /** @default 'repair' */
  tornTail?: 'repair' | 'refuse';
  /** Hears every batch once it is durable, in chain order (the shared index's feed); never delays or fails an append. */
  onDurable?: (records: readonly AuditRecord[]) => void;
  /** After a failed write, the first wait before the log tries to resume; it doubles after each failed try, up to `recoveryMaxMs`. @default 1000 */
  recoveryFirstMs?: number;
  /** @default 15000 */
  recoveryMaxMs?: number;
}

/** The log's defaults. */
export const DEFAULT_AUDIT_LOG_OPTIONS = {
  checkpointEveryRecords: 1000,
  checkpointEveryMs: 1000,
  segmentMaxBytes: DEFAULT_FILE_SINK_OPTIONS.segmentMaxBytes,
  segmentMaxRecords: DEFAULT_FILE_SINK_OPTIONS.segmentMaxRecords,
  retentionDays: 180,
  tornTail: DEFAULT_FILE_SINK_OPTIONS.tornTail,
  recoveryFirstMs: 1000,
  recoveryMaxMs: 15_000,
  confidentialPurposes: {},
} as const;

/** The shortest retention accepted, in days. */
export const MIN_RETENTION_DAYS = 180;

/** What an auditor can filter the access log by; all given conditions must hold. */
export interface AccessLogFilter {
  consumer?: string;
  subject?: SubjectRef;
  /** A department whose fields were read. */
  department?: string;
  purpose?: string;
  caseNumber?: string;
  outcome?: AuditOutcome;
  /** The federation request id of a request between hubs: every record of it in this log. */
  federationRequestId?: string;
  /** Inclusive time window (ISO 8601 or Date). */
  from?: Date | string;
  to?: Date | string;
}

/** Which page of results: `first` items after the opaque cursor `after`. */
export interface PageRequest {
  /** @default 50, at most 500 */
  first?: number;
  after?: string | null;
}

/** A page of results, newest first, in the shape of a GraphQL connection. */
export interface Page<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** One access to a citizen's data, as the citizen sees it: who, why, when, which departments; never the other subjects of the request. */
export interface CitizenAccess {
  time: string;
  consumer: string | null;
  purpose: string | null;
  caseNumber: string | null;
  /** The departments whose fields the request read. */
  departments: string[];
  outcome: AuditOutcome;
  /** Why a refused request was refused (its reason, e.g. BAD_SIGNATURE, else its code); null when served. */
  reason: string | null;
  /** How many refusals the entry stands for (refusals before authentication are counted per second); 1 otherwise. */
  count: number;
  /** An access made through another hub (跨域通办): that hub and the consumer there who asked; `consumer` is then that hub's consumer id here. Null otherwise. */
  via: { hub: string; consumer: string } | null;
}

/** What the citizen sees of a record: who, why, when, which departments, the outcome and a refusal's reason; never the other subjects. */
export function citizenAccessOf(r: AuditRecord): CitizenAccess {
  return {
    time: r.time,
    consumer: r.consumer,
    purpose: r.purpose,
    caseNumber: r.caseNumber,
    departments: Object.keys(r.fields).sort(),
    outcome: r.outcome,
    reason: r.outcome === 'GRANTED' ? null : (r.errorCodes.find((c) => c !== 'UNAUTHENTICATED') ?? r.errorCodes[0] ?? null),
    count: r.count ?? 1,
    via: r.onBehalfOf ? { hub: r.onBehalfOf.hub, consumer: r.onBehalfOf.consumer } : null,
  };
}

/** The state the hub's readiness probe reports. */
export interface AuditLogHealth {
  /** False from a failed write until the log resumed (or is reopened), and after close. */
  writable: boolean;
  reason?: AuditUnavailableReason;
  /** The last durable seq (0 when empty). */
  seq: number;
  /** The size of the newest signed tree head (0 when none). */
  checkpointSeq: number;
}

/** A signed tree head and its JWS. */
export interface SignedTreeHead {
  head: AuditTreeHead;
  jws: string;
}

/** A record's inclusion proof (RFC 9162 2.1.3) in the tree of `treeSize` records; hashes base64url. */
export interface InclusionProof {
  instance: string;
  seq: number;
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  /** The record's stored line: SHA-256(0x00 ‖ line) is `leafHash`. */
  line: string;
  path: string[];
  /** The root of the tree of `treeSize` records (check it against a signed head of that size). */
  root: string;
  /** The newest signed head, when its size is `treeSize`. */
  head: SignedTreeHead | null;
}

/** A consistency proof (RFC 9162 2.1.4) between the trees of `from` and `to` records; hashes base64url. */
export interface ConsistencyProof {
  instance: string;
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  path: string[];
}

/** A log opened for queries and export. */
export interface AuditLogReader {
  /** The chain the log's records belong to. */
  readonly chainId: string;
  /** The records matching a filter, newest first, read from the sink only for the page returned. */
  queryAccessLog(filter: AccessLogFilter, page?: PageRequest): Promise<Page<AuditRecord>>;
  /** The accesses to one subject (a citizen identity number when given as a string), newest first, confidential purposes withheld until disclosable at `now`. */
  citizenAccesses(subject: SubjectRef | string, options?: PageRequest & { now?: Date }): Promise<Page<CitizenAccess>>;
  /** All matching records in ascending seq order, a page at a time (for export); rejects when a record the index holds cannot be read back. */
  records(filter: AccessLogFilter): AsyncIterable<AuditRecord>;
  /** Turns an identifier into its stored form (for export manifests). */
  subjectOf(subject: SubjectRef): { kind: SubjectRef['kind']; key: string; mask: string };
  /** The newest signed tree head (null before the first). */
  treeHead(): SignedTreeHead | null;
  /** Record `seq`'s inclusion proof in the tree of `treeSize` records (default: the newest signed head, signed now if it does not cover the record yet). */
  inclusionProof(seq: number, treeSize?: number): Promise<InclusionProof>;
  /** The consistency proof between the trees of `from` and `to` records. */
  consistencyProof(from: number, to: number): ConsistencyProof;
  /** Releases the sink. */
  close(): Promise<void>;
}

/** The log the hub appends to. */
export interface AuditLog extends AuditLogReader {
  /** The hub instance that writes this log. */
  readonly instanceId: string;
  /**
   * Chains a record and resolves once it is durable (fsynced) with its seq and hash. Rejects
   * with AuditUnavailableError (AUDIT_UNAVAILABLE) when it cannot be written; nothing is then
   * acknowledged, and the log refuses further appends until it has re-read its tail from disk
   * and resumed by itself (tried with a back-off, and on an append once the back-off passed).
   */
  append(record: AuditRecordInput): Promise<{ seq: number; hash: string }>;
  /** Signs a tree head of the durable records now (also done every second while records arrive, every N records, at open and on close). */
  checkpoint(): Promise<void>;
  /** Whether the log can take records, for `/readyz`. */
  health(): AuditLogHealth;
}

interface Pending {
  record: AuditRecord;
  line: string;
  resolve(value: { seq: number; hash: string }): void;
  reject(error: unknown): void;
}

function positiveInteger(options: object, name: string, fallback: number, min = 1): number {
  const value = (options as Record<string, unknown>)[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new AuditOptionsError(name, `an integer of at least ${min}`);
  return value;
}

// Cursors carry the seq and which listing they page, so one listing's cursor is refused by another.
function encodeCursor(kind: string, seq: number): string {
  return Buffer.from(`${kind}:${seq}`, 'utf8').toString('base64url');
}

function decodeCursor(kind: string, cursor: string | null | undefined): number | undefined {
  if (cursor === undefined || cursor === null) return undefined;
  const m = /^([a-z]+):(\d{1,15})$/.exec(cursorText(cursor) ?? '');
  if (!m || m[1] !== kind) throw new BadUserInputError('after', 'is not a cursor of this listing');
  return Number(m[2]);
}

class FileAuditLog implements AuditLog {
  readonly chainId: string;
  readonly instanceId: string;
  private readonly keyer: SubjectKeyer;
  private readonly index = new AccessIndex();
  private readonly rules: Map<string, Rule>;
  private readonly now: () => Date;
  private readonly emit: (event: AuditLogEvent) => void;
  private sink!: AuditSink;
  private sign: AuditSigner | undefined;
  private state: 'open' | 'failed' | 'closing' | 'closed' = 'open';
  private failure: AuditUnavailableReason | undefined;
  private readonly readOnly: boolean;

  /** The chain tip including records not yet durable. */
  private tip: { seq: number; hash: string; timeMs: number };
  /** The last durable record. */
  private durable: SinkHead | null;
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;

  /** The Merkle tree of the durable records (leaf i = record seq i+1). */
  private readonly tree: MerkleTree;
  /** The chain hash of every durable record still held, by seq − firstHashSeq. */
  private readonly hashes: HashColumn;
  private readonly firstHashSeq: number;
  private newest: SignedTreeHead | null;
  /** False for a reader of a log whose oldest records were removed without a retention record. */
  private readonly provable: boolean;
  private headFile: string | undefined;
  private heading: Promise<void> = Promise.resolve();
  private everyRecords = 0;
  private sinceCheckpoint = 0;
  private timer: NodeJS.Timeout | undefined;
  private retentionMs = 0;
  private lastRetentionRun = 0;
  /** Set by openAuditLog: hears each durable batch. */
  onDurable: ((records: readonly AuditRecord[]) => void) | undefined;

  private recoveryFirstMs: number = DEFAULT_AUDIT_LOG_OPTIONS.recoveryFirstMs;
  private recoveryMaxMs: number = DEFAULT_AUDIT_LOG_OPTIONS.recoveryMaxMs;
  private recoveryDelayMs = 0;
  private nextRecoveryAt = 0;
  private failedAt = 0;
  private recovering: Promise<boolean> | null = null;
  private recoveryTimer: NodeJS.Timeout | undefined;
  /** Set when resuming is impossible (no recoverable sink, or an acknowledged record is missing on disk). */
  private unrecoverable = false;

  constructor(init: {
    chainId: string;
    instanceId: string;
    keyer: SubjectKeyer;
    index: AccessIndex;
    rules: Map<string, Rule>;
    now: () => Date;
    emit: (event: AuditLogEvent) => void;
    sink: AuditSink;
    head: SinkHead | null;
    readOnly: boolean;
    tree: MerkleTree;
    hashes: HashColumn;
    firstHashSeq: number;
    newest: SignedTreeHead | null;
    provable: boolean;
  }) {
    this.chainId = init.chainId;
    this.instanceId = init.instanceId;
    this.keyer = init.keyer;
    this.index = init.index;
    this.rules = init.rules;
    this.now = init.now;
    this.emit = init.emit;
    this.sink = init.sink;
    this.durable = init.head;
    this.readOnly = init.readOnly;
    this.tree = init.tree;
    this.hashes = init.hashes;
    this.firstHashSeq = init.firstHashSeq;
    this.newest = init.newest;
    this.provable = init.provable;
    this.tip = init.head
      ? { seq: init.head.seq, hash: init.head.hash, timeMs: Date.parse(init.head.time) || 0 }
      : { seq: 0, hash: genesisHash(init.chainId), timeMs: 0 };
  }

  /**
   * Starts tree heads and retention; called once by openAuditLog after the checks at open. The
   * first thing signed is a head of what the log holds now (a start head, also for an empty log),
   * so every log this code wrote holds at least one head.
   */
  async start(options: { sign: AuditSigner; everyRecords: number; everyMs: number; retentionDays: number; headFile?: string; breakEvidence?: AuditTreeHead['break']; recoveryFirstMs: number; recoveryMaxMs: number }): Promise<void> {
    this.sign = options.sign;
    this.recoveryFirstMs = options.recoveryFirstMs;
    this.recoveryMaxMs = Math.max(options.recoveryMaxMs, options.recoveryFirstMs);
    this.everyRecords = options.everyRecords;
    this.retentionMs = options.retentionDays * 86_400_000;
    this.headFile = options.headFile;
    await this.signHead(options.breakEvidence ? 'break' : 'start', options.breakEvidence ? { break: options.breakEvidence } : {}, true);
    await this.applyRetention();
    this.timer = setInterval(() => {
      if (this.state !== 'open') return;
      if ((this.durable?.seq ?? 0) > (this.newest?.head.size ?? 0)) void this.signHead('tick');
      if (Date.now() - this.lastRetentionRun > 3_600_000) void this.applyRetention();
    }, options.everyMs);
    this.timer.unref();
  }

  /** `start`, releasing the sink (and its lock) when the first head cannot be signed. */
  async startOrClose(options: Parameters<FileAuditLog['start']>[0]): Promise<void> {
    try {
      await this.start(options);
    } catch (error) {
      if (this.timer) clearInterval(this.timer);
      this.state = 'closed';
      await this.sink.close().catch(() => undefined);
      throw error;
    }
  }

  /** The chain hash of durable record `seq` (the genesis value for 0). */
  private chainHashAt(seq: number): string {
    if (seq === 0) return genesisHash(this.chainId);
    if (seq < this.firstHashSeq || seq - this.firstHashSeq >= this.hashes.length) throw new AuditLogCorruptError(`no chain hash is held for seq ${seq}`);
    return this.hashes.get(seq - this.firstHashSeq).toString('hex');
  }

  /**
   * Signs a tree head of the durable records, stores it after the previous one, and then copies it
   * to the head file outside the log. Heads are signed one at a time, in order; a tick finds
   * nothing to do when the newest head already covers every durable record. Failures are reported
   * (and the next tick signs again) unless `required`, when they are thrown.
   */
  private signHead(reason: string, extra: Partial<AuditTreeHead> = {}, required = false): Promise<void> {
    const run = async (): Promise<void> => {
      const size = this.durable?.seq ?? 0;
      if (reason === 'tick' && (this.newest?.head.size ?? 0) >= size) return;
      try {
        const timeMs = Math.max(this.now().getTime(), Date.parse(this.durable?.time ?? '') || 0);
        const head: AuditTreeHead = {
          typ: TREE_HEAD_TYPE,
          chain: this.chainId,
          instance: this.instanceId,
          size,
          root: this.tree.root(size).toString('base64url'),
          hash: this.chainHashAt(size),
          time: new Date(timeMs).toISOString(),
          prev: this.newest ? headHash(this.newest.jws) : null,
          reason,
          ...extra,
        };
        const { line, jws } = await signTreeHead(head, this.sign!);
        await this.sink.appendCheckpoint({ seq: size, line });
        this.newest = { head, jws };
        if (this.headFile) await writeHeadFile(this.headFile, line);
      } catch (error) {
        if (required) throw error;
        this.emit({ type: 'checkpoint-failed', seq: size, code: (error as NodeJS.ErrnoException | undefined)?.code });
      }
    };
    if (reason !== 'tick') this.sinceCheckpoint = 0;
    const next = this.heading.then(run);
    this.heading = next.catch(() => undefined);
    return next;
  }

  append(input: AuditRecordInput): Promise<{ seq: number; hash: string }> {
    if (this.readOnly) return Promise.reject(new AuditUnavailableError('READ_ONLY'));
    if (this.state === 'failed' && !this.unrecoverable && Date.now() >= this.nextRecoveryAt) {
      // The back-off has passed: try to resume now rather than wait for the timer.
      return this.recover().then((resumed) => (resumed ? this.append(input) : Promise.reject(this.refusal())));
    }
    if (this.state !== 'open') return Promise.reject(this.refusal());
    let record: AuditRecord;
    let line: string;
    try {
      const body = toStoredBody(input, this.keyer);
      // Time never goes backwards along the chain, so a time window is a seq window for the index.
      const timeMs = Math.max(this.now().getTime(), this.tip.timeMs);
      const unhashed = { v: AUDIT_RECORD_VERSION, seq: this.tip.seq + 1, time: new Date(timeMs).toISOString(), instance: this.instanceId, prev: this.tip.hash, ...body };
      // One serialization of the members for both texts: the hash's input and the line.
      const texts = canonicalRecordTexts(unhashed);
      const hash = chainHash(this.tip.hash, texts.body);
      record = { ...unhashed, hash };
      line = texts.withHash(hash);
      this.tip = { seq: record.seq, hash, timeMs };
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ record, line, resolve, reject });
      // Appends that arrive while a batch is being written wait for the next batch: group commit.
      this.writing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const before = this.durable;
        let sealedThrough: number | undefined;
        try {
          ({ sealedThrough } = await this.sink.append(batch.map((p) => ({ seq: p.record.seq, time: p.record.time, hash: p.record.hash, line: p.line }))));
        } catch (error) {
          this.fail(error, batch);
          return;
        }
        const last = batch[batch.length - 1]!.record;
        for (const p of batch) {
          this.tree.append(leafHash(p.line));
          this.hashes.push(Buffer.from(p.record.hash, 'hex'));
        }
        this.durable = { seq: last.seq, hash: last.hash, time: last.time };
        for (const p of batch) {
          this.index.add(p.record);
          p.resolve({ seq: p.record.seq, hash: p.record.hash });
        }
        try {
          this.onDurable?.(batch.map((p) => p.record));
        } catch {
          // A listener's failure is its own (the shared index catches up from the chain).
        }
        if (sealedThrough !== undefined && before && before.seq === sealedThrough) await this.applyRetention();
        this.sinceCheckpoint += batch.length;
        if (this.sinceCheckpoint >= this.everyRecords) void this.signHead('count');
      }
    } finally {
      this.writing = null;
    }
  }

  // After a failed write the page cache may no longer match the disk (a failed fsync can drop
  // dirty pages and report success next time), so the log does not carry on through the same
  // descriptors: it refuses appends until the sink has re-read its tail from disk (recover()).
  private fail(error: unknown, batch: Pending[]): void {
    const reason = unavailableReasonOf(error);
    this.state = 'failed';
    this.failure = reason;
    this.failedAt = Date.now();
    this.emit({ type: 'write-failed', reason, code: (error as NodeJS.ErrnoException | undefined)?.code });
    const rejected = [...batch, ...this.queue];
    this.queue = [];
    // Records chained after the last durable one were never acknowledged: the chain continues from the durable head.
    this.tip = this.durable
      ? { seq: this.durable.seq, hash: this.durable.hash, timeMs: this.tip.timeMs }
      : { seq: 0, hash: genesisHash(this.chainId), timeMs: this.tip.timeMs };
    for (const p of rejected) p.reject(new AuditUnavailableError(reason, error));
    if (!this.sink.recover) this.unrecoverable = true;
    this.recoveryDelayMs = this.recoveryFirstMs;
    this.scheduleRecovery();
  }

  private refusal(): AuditUnavailableError {
    if (this.state === 'failed') return new AuditUnavailableError(this.unrecoverable ? 'FAILED_EARLIER' : (this.failure ?? 'FAILED_EARLIER'));
    return new AuditUnavailableError('CLOSED');
  }

  private scheduleRecovery(): void {
    if (this.unrecoverable || this.state !== 'failed') return;
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.nextRecoveryAt = Date.now() + this.recoveryDelayMs;
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      void this.recover();
    }, this.recoveryDelayMs);
    this.recoveryTimer.unref();
  }

  /** One attempt to resume after a failed write; true when the log takes records again. */
  private recover(): Promise<boolean> {
    this.recovering ??= (async () => {
      if (this.state !== 'failed' || this.unrecoverable) return this.state === 'open';
      if (this.writing) await this.writing;
      // The sink closes and reopens its descriptors: no checkpoint write may be in flight on one.
      await this.heading;
      try {
        await this.sink.recover!(this.durable);
      } catch (error) {
        const corrupt = (error as { code?: string } | undefined)?.code === 'AUDIT_LOG_CORRUPT';
        if (corrupt) this.unrecoverable = true;
        else this.failure = unavailableReasonOf(error);
        this.recoveryDelayMs = Math.min(this.recoveryDelayMs * 2, this.recoveryMaxMs);
        this.emit({
          type: 'recovery-failed',
          reason: corrupt ? (error as Error).message : this.failure!,
          code: (error as NodeJS.ErrnoException | undefined)?.code,
          retryInMs: corrupt ? null : this.recoveryDelayMs,
        });
        this.scheduleRecovery();
        return false;
      }
      if ((this.state as string) !== 'failed') return false; // closed meanwhile
      const failedFor = this.failure ?? 'IO_ERROR';
      this.state = 'open';
      this.failure = undefined;
      this.emit({ type: 'audit-resumed', seq: this.durable?.seq ?? 0, failedFor, failedMs: Date.now() - this.failedAt });
      return true;
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  /**
   * Signs and stores a retention record before records 1..through are removed: the tree's
   * frontier there and the chain hash of `through`, so that verification and proofs continue from
   * them. It stands beside the heads' chain (it names no previous head), so an archiver that
   * prunes a copy of the chain can sign one too.
   */
  private signRetention(through: number): Promise<void> {
    const run = async (): Promise<void> => {
      const { line } = await signTreeHead(retentionRecord({
        chain: this.chainId,
        instance: this.instanceId,
        through,
        hash: this.chainHashAt(through),
        frontier: this.tree.frontier(through),
        time: this.now(),
      }), this.sign!);
      await this.sink.appendCheckpoint({ seq: through, line });
    };
    const next = this.heading.then(run);
    this.heading = next.catch(() => undefined);
    return next;
  }

  async checkpoint(): Promise<void> {
    if (this.readOnly) return;
    if (this.writing) await this.writing;
    if (this.state === 'open') await this.signHead('manual');
  }

  treeHead(): SignedTreeHead | null {
    return this.newest;
  }

  async inclusionProof(seq: number, treeSize?: number): Promise<InclusionProof> {
    if (!this.provable) throw new BadUserInputError('seq', 'cannot be proven: the oldest records of this log were removed without a signed retention record');
    if (!Number.isSafeInteger(seq) || seq < 1) throw new BadUserInputError('seq', 'must be a positive integer');
    if (treeSize !== undefined && (!Number.isSafeInteger(treeSize) || treeSize < seq)) throw new BadUserInputError('treeSize', `must be an integer of at least seq (${seq})`);
    const durable = this.tree.size;
    if (seq > durable) throw new BadUserInputError('seq', `must be at most ${durable}, the log's newest record`);
    if (treeSize !== undefined && treeSize > durable) throw new BadUserInputError('treeSize', `must be at most ${durable}, the log's size`);
    // A record not yet under a signed head gets one now, so that its proof can be checked at once.
    if (treeSize === undefined && !this.readOnly && this.state === 'open' && (this.newest?.head.size ?? 0) < seq) await this.signHead('proof');
    const size = treeSize ?? this.newest?.head.size ?? durable;
    if (size < seq) throw new BadUserInputError('seq', `is not yet covered by a signed tree head (newest covers ${size})`);
    try {
      const path = this.tree.inclusionProof(seq - 1, size).map((h) => h.toString('base64url'));
      const [record] = await this.sink.read([seq]);
      if (!record) throw new AuditLogCorruptError(`record ${seq} can no longer be read from the log`);
      return {
        line: canonicalJson(record),
        instance: this.newest?.head.instance ?? this.instanceId,
        seq,
        leafIndex: seq - 1,
        treeSize: size,
        leafHash: this.tree.leaf(seq - 1).toString('base64url'),
        path,
        root: this.tree.root(size).toString('base64url'),
        head: this.newest && this.newest.head.size === size ? this.newest : null,
      };
    } catch (error) {
      if (error instanceof PrunedRangeError) throw new BadUserInputError('seq', `belongs to records removed by retention (through ${error.prunedThrough})`);
      throw error;
    }
  }

  consistencyProof(from: number, to: number): ConsistencyProof {
    const size = this.tree.size;
    if (!this.provable) throw new BadUserInputError('from', 'cannot be proven: the oldest records of this log were removed without a signed retention record');
    if (!Number.isSafeInteger(to) || to < 0 || to > size) throw new BadUserInputError('to', `must be between 0 and ${size}, the log's size`);
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new BadUserInputError('from', `must be between 0 and to (${to})`);
    try {
      return {
        instance: this.newest?.head.instance ?? this.instanceId,
        from,
        to,
        fromRoot: this.tree.root(from).toString('base64url'),
        toRoot: this.tree.root(to).toString('base64url'),
        path: this.tree.consistencyProof(from, to).map((h) => h.toString('base64url')),
      };
    } catch (error) {
      if (error instanceof PrunedRangeError) throw new BadUserInputError('from', `reaches into records removed by retention (through ${error.prunedThrough})`);
      throw error;
    }
  }

  private async applyRetention(): Promise<void> {
    if (this.readOnly || this.retentionMs === 0) return;
    this.lastRetentionRun = Date.now();
    try {
      // Before any segment goes, a signed retention record says which and keeps the hashes proofs need.
      const anchor = (through: number) => this.signRetention(through);
      const firstSeq = await this.sink.expire(new Date(this.now().getTime() - this.retentionMs), anchor);
      if (firstSeq !== null) this.index.dropBefore(firstSeq);
    } catch (error) {
      this.emit({ type: 'write-failed', reason: 'retention', code: (error as NodeJS.ErrnoException | undefined)?.code });
    }
  }

  health(): AuditLogHealth {
    const writable = this.state === 'open' && !this.readOnly;
    const reason = this.failure ?? (this.readOnly ? 'READ_ONLY' : this.state === 'open' ? undefined : 'CLOSED');
    return { writable, ...(reason && !writable ? { reason } : {}), seq: this.durable?.seq ?? 0, checkpointSeq: this.newest?.head.size ?? 0 };
  }

  subjectOf(subject: SubjectRef) {
    return this.keyer.subject(subject);
  }

  private selection(filter: AccessLogFilter): { terms: string[]; fromMs?: number; toMs?: number; subjectKey?: string } {
    if (filter === null || typeof filter !== 'object') throw new BadUserInputError('filter', 'must be an object');
    const terms: string[] = [];
    let subjectKey: string | undefined;
    if (filter.subject !== undefined) {
      if (!SUBJECT_KINDS.includes(filter.subject?.kind) || typeof filter.subject.id !== 'string' || filter.subject.id.length === 0) {
        throw new BadUserInputError('subject', `must be {kind, id} with kind one of ${SUBJECT_KINDS.join(', ')}`);
      }
      subjectKey = this.keyer.key(filter.subject);
      terms.push(term.subject(subjectKey));
    }
    if (filter.consumer !== undefined) terms.push(term.consumer(filter.consumer));
    if (filter.caseNumber !== undefined) terms.push(term.caseNumber(filter.caseNumber));
    if (filter.purpose !== undefined) terms.push(term.purpose(filter.purpose));
    if (filter.department !== undefined) terms.push(term.department(filter.department));
    if (filter.federationRequestId !== undefined) terms.push(term.federationRequestId(filter.federationRequestId));
    if (filter.outcome !== undefined) {
      if (!AUDIT_OUTCOMES.includes(filter.outcome)) throw new BadUserInputError('outcome', `must be one of ${AUDIT_OUTCOMES.join(', ')}`);
      terms.push(term.outcome(filter.outcome));
    }
    const fromMs = timeArgument(filter.from, 'from');
    const toMs = timeArgument(filter.to, 'to');
    return { terms, ...(fromMs === undefined ? {} : { fromMs }), ...(toMs === undefined ? {} : { toMs }), ...(subjectKey ? { subjectKey } : {}) };
  }

  async queryAccessLog(filter: AccessLogFilter, page: PageRequest = {}): Promise<Page<AuditRecord>> {
    const limit = pageSize(page.first);
    const afterSeq = decodeCursor('a', page.after);
    const { terms, fromMs, toMs, subjectKey } = this.selection(filter);
    const { seqs, more } = this.index.select({ terms, fromMs, toMs, afterSeq, order: 'desc', limit });
    const records = (await this.sink.read(seqs)).filter((r) => recordMatches(r, filter, subjectKey, fromMs, toMs));
    return this.page(records, more, 'a', (r) => r);
  }

  async *records(filter: AccessLogFilter): AsyncIterable<AuditRecord> {
    const { terms, fromMs, toMs, subjectKey } = this.selection(filter);
    let afterSeq: number | undefined;
    for (;;) {
      const { seqs, more } = this.index.select({ terms, fromMs, toMs, afterSeq, order: 'asc', limit: MAX_PAGE_SIZE });
      const records = await this.sink.read(seqs);
      // A listing for export never skips a record silently: one the index holds but the files no longer do is an error.
      if (records.length !== seqs.length) {
        const held = new Set(records.map((r) => r.seq));
        throw new AuditLogCorruptError(`record ${seqs.find((seq) => !held.has(seq))} is in the index but can no longer be read from the log`);
      }
      for (const record of records) if (recordMatches(record, filter, subjectKey, fromMs, toMs)) yield record;
      if (!more) return;
      afterSeq = seqs[seqs.length - 1];
    }
  }

  async citizenAccesses(subject: SubjectRef | string, options: PageRequest & { now?: Date } = {}): Promise<Page<CitizenAccess>> {
    const ref: SubjectRef = typeof subject === 'string' ? { kind: 'PERSON', id: subject } : subject;
    if (!ref || !SUBJECT_KINDS.includes(ref.kind) || typeof ref.id !== 'string' || ref.id.length === 0) throw new BadUserInputError('subject', 'must be an identifier');
    const limit = pageSize(options.first);
    const afterSeq = decodeCursor('c', options.after);
    const nowMs = (options.now ?? this.now()).getTime();
    const key = this.keyer.key(ref);
    // Withholding is decided from the index (purpose and time), so withheld records are never read.
    const confidential = [...this.rules.keys()];
    const accept = (seq: number) => !confidential.some((p) => this.index.has(term.purpose(p), seq) && withheldBy(this.rules, p, this.index.timeOf(seq), nowMs));
    const { seqs, more } = this.index.select({ terms: [term.subject(key)], afterSeq, order: 'desc', limit, accept });
    const records = (await this.sink.read(seqs)).filter((r) => r.subjects.some((s) => s.key === key) && !withheldBy(this.rules, r.purpose, Date.parse(r.time), nowMs));
    return this.page(records, more, 'c', citizenAccessOf);
  }

  private page<T>(records: AuditRecord[], more: boolean, kind: string, project: (r: AuditRecord) => T): Page<T> {
    const edges = records.map((r) => ({ cursor: encodeCursor(kind, r.seq), node: project(r) }));
    return { edges, pageInfo: { hasNextPage: more, endCursor: edges.length > 0 ? edges[edges.length - 1]!.cursor : null } };
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    const failed = this.state === 'failed';
    this.state = 'closing';
    if (this.timer) clearInterval(this.timer);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    if (this.recovering) await this.recovering;
    if (this.writing) await this.writing;
    // The final head: whatever the log holds is signed before it is closed.
    if (!failed && !this.readOnly) await this.signHead('close');
    await this.heading;
    await this.sink.close();
    this.state = 'closed';
  }
}

async function openLog(options: AuditLogReaderOptions, writer: AuditLogOptions | undefined): Promise<FileAuditLog> {
  if (!options || typeof options !== 'object') throw new AuditOptionsError('options', 'an object');
  if (!options.sink && (typeof options.dir !== 'string' || options.dir.length === 0)) throw new AuditOptionsError('dir', 'a directory path');
  const keyer = createSubjectKeyer(options.subjectKeySecret);
  const rules = disclosureRules(options.confidentialPurposes);
  const emit = options.onEvent ?? (() => undefined);
  let sinkSettings: { segmentMaxBytes: number; segmentMaxRecords: number; tornTail: 'repair' | 'refuse' } | undefined;
  if (writer) {
    if (typeof writer.instanceId !== 'string' || writer.instanceId.length === 0) throw new AuditOptionsError('instanceId', 'a non-empty string');
    if (typeof writer.sign !== 'function') throw new AuditOptionsError('sign', 'a function returning a compact JWS');
    const tornTail = writer.tornTail ?? DEFAULT_AUDIT_LOG_OPTIONS.tornTail;
    if (tornTail !== 'repair' && tornTail !== 'refuse') throw new AuditOptionsError('tornTail', '"repair" or "refuse"');
    sinkSettings = {
      segmentMaxBytes: positiveInteger(writer, 'segmentMaxBytes', DEFAULT_AUDIT_LOG_OPTIONS.segmentMaxBytes, 4096),
      segmentMaxRecords: positiveInteger(writer, 'segmentMaxRecords', DEFAULT_AUDIT_LOG_OPTIONS.segmentMaxRecords),
      tornTail,
    };
  }
  const sink =
    options.sink ??
    createFileSink({ dir: options.dir, fs: options.fs, onEvent: emit, readOnly: !writer, ...(sinkSettings ?? {}) });
  const index = new AccessIndex();
  const instanceId = writer?.instanceId ?? 'reader';
  const proposed = writer?.chainId ?? `${instanceId}/${randomUUID()}`;
  // The replay rebuilds the index, the Merkle tree's leaves and the chain hashes in one pass.
  const leaves = new HashColumn();
  const hashes = new HashColumn();
  let firstSeq: number | undefined;
  let nextSeq: number | undefined;
  let disorder: number | undefined;
  let written = false;
  const state = await sink.open({ chainId: proposed, instanceId }, (record, line) => {
    index.add(record);
    firstSeq ??= record.seq;
    if ((nextSeq !== undefined && record.seq !== nextSeq) || !/^[0-9a-f]{64}$/.test(record.hash)) disorder ??= record.seq;
    nextSeq = record.seq + 1;
    if (record.v === AUDIT_RECORD_VERSION) written = true;
    leaves.push(leafHash(line));
    hashes.push(Buffer.from(record.hash.padEnd(64, '0').slice(0, 64), 'hex'));
  });
  const refuse = async (problem: string): Promise<never> => {
    await sink.close().catch(() => undefined);
    throw new AuditLogCorruptError(problem);
  };
  if (writer && disorder !== undefined) await refuse(`the records are not one chain in order at seq ${disorder}`);
  const start = (firstSeq ?? 1) - 1;
  const retention = state.retentionHead ? parseTreeHeadLine(state.retentionHead) : undefined;
  let tree: MerkleTree;
  let provable = true;
  if (start === 0) {
    tree = new MerkleTree();
  } else if (retention?.head.prunedThrough === start && retention.head.frontier) {
    tree = new MerkleTree({ size: start, frontier: retention.head.frontier.map((h) => Buffer.from(h, 'base64url')) });
  } else {
    if (writer) await refuse(`records 1 to ${start} are missing and no signed retention record says they were removed`);
    // A reader still answers queries; it cannot prove anything about this log.
    tree = new MerkleTree({ size: start, frontier: frontierOfUnknown(start) });
    provable = false;
  }
  for (let i = 0; i < leaves.length; i++) tree.append(leaves.get(i));
  const size = tree.size;
  const chainHashAt = (seq: number): string => (seq === 0 ? genesisHash(state.chainId) : seq > start && seq <= size ? hashes.get(seq - start - 1).toString('hex') : '');
  let newest: SignedTreeHead | null = state.newestHead ? (parseTreeHeadLine(state.newestHead) ?? null) : null;
  let breakEvidence: AuditTreeHead['break'];
  if (writer) {
    // Nothing is signed before the log is shown to continue its newest signed head (no laundering).
    const where = options.dir ? ` in ${options.dir}` : '';
    if (state.newestHead) {
      const checked = await checkedHead(state.newestHead, writer.verify);
      if ('problem' in checked) return refuse(`the newest signed head of the log${where} ${checked.message}`);
      const h = checked.head;
      if (h.chain !== state.chainId) {
        // A store that lost the chain can still hold a head of it: evidence of the break, not this log's head.
        if (writer.onChainBreak !== 'record' || size !== 0) return refuse(`the newest signed head belongs to chain ${h.chain}, the log${where} to chain ${state.chainId}`);
        breakEvidence = { chain: h.chain, size: h.size, root: h.root, jwsHash: headHash(checked.jws), reason: writer.breakReason ?? 'the log of this instance was lost' };
      } else {
        if (h.size > size) return refuse(`the newest signed head (${h.time}) covers ${h.size} records but the log${where} holds ${size}: records ${size + 1} to ${h.size} were removed`);
        if ((h.size >= start && tree.root(h.size).toString('base64url') !== h.root) || chainHashAt(h.size) !== h.hash) {
          return refuse(`records 1 to ${h.size} of the log${where} differ from what its newest signed head (${h.time}) signed: the log was rewritten`);
        }
        newest = checked;
      }
    } else if (written) {
      return refuse(`the log${where} holds records written under signed tree heads but no head: its heads were removed`);
    }
    // The records after the newest head: their chain links.
    const from = Math.max(newest?.head.size ?? 0, start);
    let prev = chainHashAt(from);
    for (let seq = from + 1; seq <= size; seq += 500) {
      const wanted = Array.from({ length: Math.min(500, size - seq + 1) }, (_, i) => seq + i);
      const records = await sink.read(wanted);
      if (records.length !== wanted.length) return refuse(`records after seq ${seq - 1} could not be read back`);
      for (const r of records) {
        if (chainHash(prev, canonicalBody(r)) !== r.hash) return refuse(`record ${r.seq}, after the newest signed head, does not continue the chain: it was changed`);
        prev = r.hash;
      }
    }
    if (writer.headFile) {
      const raw = await readFile(writer.headFile, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
      if (raw !== undefined) {
        const checked = await checkedHead(raw.trim(), writer.verify);
        if ('problem' in checked) return refuse(`the head kept in ${writer.headFile} ${checked.message}`);
        const h = checked.head;
        const remedy = `To start a new chain that records the break as evidence, run: datarun audit new-chain --reason "<why>"`;
        if (h.instance !== instanceId) return refuse(`the head kept in ${writer.headFile} is of instance ${h.instance}, not ${instanceId}`);
        if (h.chain !== state.chainId) {
          if (writer.onChainBreak === 'record' && size === 0) {
            breakEvidence ??= { chain: h.chain, size: h.size, root: h.root, jwsHash: headHash(checked.jws), reason: writer.breakReason ?? 'the log of this instance was lost' };
          } else {
            return refuse(`the newest head of instance ${instanceId} (kept in ${writer.headFile}) is of chain ${h.chain} with ${h.size} records signed ${h.time}, but the log${where} is chain ${state.chainId} with ${size} records: the log was deleted, replaced or rolled back. ${remedy}`);
          }
        } else if (h.size > size) {
          return refuse(`the newest head of instance ${instanceId} (kept in ${writer.headFile}, signed ${h.time}) covers ${h.size} records but the log${where} holds ${size}: records ${size + 1} to ${h.size} are missing (a cut tail or a rollback). ${remedy}`);
        } else if (h.size >= start && tree.root(h.size).toString('base64url') !== h.root) {
          return refuse(`records 1 to ${h.size} of the log${where} differ from the head kept in ${writer.headFile}: the log was rewritten. ${remedy}`);
        }
      }
    }
  }
  const log = new FileAuditLog({
    chainId: state.chainId,
    instanceId,
    keyer,
    index,
    rules,
    now: options.now ?? (() => new Date()),
    emit,
    sink,
    head: state.head,
    readOnly: !writer,
    tree,
    hashes,
    firstHashSeq: start + 1,
    newest,
    provable,
  });
  return Object.assign(log, { breakEvidence });
}

/** A stand-in frontier for a prefix whose hashes are unknown: roots computed from it are wrong, so a reader that uses it offers no proofs (`provable`). */
function frontierOfUnknown(size: number): Buffer[] {
  let n = 0;
  for (let s = size; s > 0; s = Math.floor(s / 2)) n += s % 2;
  return Array.from({ length: n }, () => Buffer.alloc(32));
}

async function checkedHead(raw: string, verify: AuditSignatureVerifier | undefined): Promise<SignedTreeHead | { problem: string; message: string }> {
  if (verify) return checkTreeHeadLine(raw, verify);
  return parseTreeHeadLine(raw) ?? { problem: 'MALFORMED', message: 'is not a signed tree head' };
}

/** Replaces the head file atomically and durably: written beside it, synced, renamed over it. */
async function writeHeadFile(file: string, line: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await openFile(temporary, 'w', 0o644);
  try {
    await handle.writeFile(`${line}\n`, 'utf8');
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const dir = await openFile(path.dirname(file), 'r');
  try {
    await dir.sync().catch(() => undefined);
  } finally {
    await dir.close();
  }
}

/**
 * Opens (or creates) the log the hub appends to: takes the directory's lock, repairs a torn tail
 * left by a crash, rebuilds the index, signs any unsigned records, removes expired segments.
 */
export async function openAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const everyRecords = positiveInteger(options ?? {}, 'checkpointEveryRecords', DEFAULT_AUDIT_LOG_OPTIONS.checkpointEveryRecords);
  const everyMs = positiveInteger(options ?? {}, 'checkpointEveryMs', DEFAULT_AUDIT_LOG_OPTIONS.checkpointEveryMs, 100);
  const retentionDays = positiveInteger(options ?? {}, 'retentionDays', DEFAULT_AUDIT_LOG_OPTIONS.retentionDays, MIN_RETENTION_DAYS);
  if (everyMs > 1000) throw new AuditOptionsError('checkpointEveryMs', 'at most 1000: tree heads are signed at least every second');
  const recoveryFirstMs = positiveInteger(options ?? {}, 'recoveryFirstMs', DEFAULT_AUDIT_LOG_OPTIONS.recoveryFirstMs, 10);
  const recoveryMaxMs = positiveInteger(options ?? {}, 'recoveryMaxMs', DEFAULT_AUDIT_LOG_OPTIONS.recoveryMaxMs, 10);
  const log = await openLog(options, options);
  const breakEvidence = (log as FileAuditLog & { breakEvidence?: AuditTreeHead['break'] }).breakEvidence;
  log.onDurable = options.onDurable;
  await log.startOrClose({ sign: options.sign, everyRecords, everyMs, retentionDays, recoveryFirstMs, recoveryMaxMs, ...(options.headFile ? { headFile: options.headFile } : {}), ...(breakEvidence ? { breakEvidence } : {}) });
  return log;
}

/** Opens a log for queries and export only: no lock, no repair, no writes; safe next to a running hub (it sees the records durable at open). */
export async function openAuditLogReader(options: AuditLogReaderOptions): Promise<AuditLogReader> {
  return openLog(options, undefined);
}
