/**
 * The storage contract of the audit log. The log (audit-log.ts) does the chaining, the group
 * commit, the checkpoint schedule and the index; a sink only stores, durably and in order. The
 * embedded sink is a directory of segment files (file-sink.ts); a Redis stream sink can
 * implement the same contract (one stream per hub instance, entry id `<seq>-0`, checkpoints in a
 * second stream, XTRIM MINID for retention).
 */
import type { AuditRecord } from './record';

/** A chained record ready to store: its canonical line (no newline) and the facts a sink indexes by. */
export interface SinkRecord {
  readonly seq: number;
  readonly time: string;
  readonly hash: string;
  readonly line: string;
}

/** The last durable record of a sink. */
export interface SinkHead {
  seq: number;
  hash: string;
  time: string;
}

/** What a sink reports once open. */
export interface AuditSinkState {
  /** The chain the stored records belong to (the sink's own, or the one proposed if it was empty). */
  chainId: string;
  /** The last durable record, `null` when there is none. */
  head: SinkHead | null;
  /** The seq of the newest stored checkpoint, 0 when there is none. */
  lastCheckpointSeq: number;
  /** The newest stored signed tree head line (any kind), as stored; absent when there is none. */
  newestHead?: string;
  /** The newest stored retention record line, when old records were removed. */
  retentionHead?: string;
}

/** Something the log or its sink did that operators should hear about (never with record values). */
export type AuditLogEvent =
  | { type: 'torn-tail-repaired'; segment: string; bytes: number; savedTo: string }
  | { type: 'record-unreadable'; segment: string; line: number }
  | { type: 'write-failed'; reason: string; code: string | undefined }
  | { type: 'checkpoint-failed'; seq: number; code: string | undefined }
  | { type: 'segments-removed'; segments: string[]; firstSeq: number }
  | { type: 'audit-resumed'; seq: number; failedFor: string; failedMs: number }
  | { type: 'recovery-failed'; reason: string; code: string | undefined; retryInMs: number | null };

/**
 * Where the audit log keeps its records. Every method may reject; `append` and
 * `appendCheckpoint` reject when (and only when) their data may not be durable.
 */
export interface AuditSink {
  /**
   * Opens the store, repairs what a crash can leave behind (a torn last record, never
   * acknowledged), calls `replay` for every stored record in storage order (the log rebuilds its
   * index from them), and reports the head to continue the chain from.
   */
  open(request: { chainId: string; instanceId: string }, replay: (record: AuditRecord, line: string) => void): Promise<AuditSinkState>;
  /**
   * Stores a batch of consecutive records as one durable unit: resolves only once all of them
   * would survive a power cut. On rejection the sink must not later hold part of the batch
   * followed by other records. `sealedThrough` reports a storage unit closed before this batch
   * (its last seq), which the log then anchors with a signed checkpoint.
   */
  append(batch: readonly SinkRecord[]): Promise<{ sealedThrough?: number }>;
  /** Stores a signed checkpoint line durably. */
  appendCheckpoint(checkpoint: { seq: number; line: string }): Promise<void>;
  /** Reads the records with these seqs, in the order given, leaving out any it no longer holds. */
  read(seqs: readonly number[]): Promise<AuditRecord[]>;
  /**
   * Removes whole storage units whose newest record is older than `cutoff`, never the one being
   * written and never one whose end no checkpoint anchors. With `anchor`, the sink first calls it
   * with the last seq it is about to remove (the log signs and stores a retention record), and
   * removes only once it resolved. Resolves with the first seq still held when it removed
   * something, else `null`.
   */
  expire(cutoff: Date, anchor?: (throughSeq: number) => Promise<void>): Promise<number | null>;
  /**
   * After a rejected append: lets go of what it wrote through (descriptors, connections), reads
   * its stored tail again, removes anything after `expected` (never acknowledged), checks that
   * the stored chain ends exactly at `expected`, and gets ready to append after it. Rejects when
   * it cannot (still no space, still read-only), or with AUDIT_LOG_CORRUPT when an acknowledged
   * record is missing. A sink without it stays refused until reopened.
   */
  recover?(expected: SinkHead | null): Promise<void>;
  /** Releases files, connections and locks. */
  close(): Promise<void>;
}
