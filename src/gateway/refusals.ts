/**
 * Refusals before authentication, counted instead of logged one by one: a flood of unsigned or
 * badly signed requests from one client becomes one access record per (source, reason, second)
 * carrying its count, so it cannot fill the disk with fsynced records. Each refusal is one
 * increment of that second's aggregate; the aggregate is written once its second has closed.
 * The bucket also keeps the refusal's reason (MISSING, BAD_SIGNATURE…) and the subjects the
 * refused request named, so the citizen whose record was asked for sees the refusal and why.
 */
import { AuditOptionsError, type AuditRecordInput, type SubjectRef } from '../audit';
import { sourceAddressOf, UNKNOWN_SOURCE } from './source-address';

/** Defaults of the refusal aggregator. */
export const DEFAULT_REFUSAL_AGGREGATOR = Object.freeze({ maxKeysPerWindow: 1000, flushEveryMs: 1000 });

/** The source of the bucket that takes a second's refusals once it has `maxKeysPerWindow` others. */
export const OVERFLOW_SOURCE = '*';
/** Distinct reasons kept in the overflow bucket's error codes (the count keeps counting past it). */
const MAX_OVERFLOW_REASONS = 64;

/** Options of `createRefusalAggregator`. */
export interface RefusalAggregatorOptions {
  /** Writes one aggregate record (the hub's access log `append`). */
  append(record: AuditRecordInput): Promise<unknown>;
  /** The clock, ms since the epoch. @default Date.now */
  now?: () => number;
  /** Distinct (source, reason) buckets per second; past it, refusals go to one overflow bucket of source `*`. @default 1000 */
  maxKeysPerWindow?: number;
  /** Hears a failed write (once per flush); without it `flush()` rejects and the timer drops the error. */
  onError?(error: unknown): void;
}

/** Counts refusals per (source, reason, second) and writes one record per bucket. */
export interface RefusalAggregator {
  /** Counts one refusal now: synchronous and O(1), never waits for the log. `source` is reduced like `sourceOf` does (IPv6 to its /64); not an address: `unknown`. */
  refuse(source: string, reason: string, detail?: { reason?: string; subjects?: readonly SubjectRef[] }): void;
  /** Writes the buckets of every second that has closed (the current one keeps counting). */
  flush(): Promise<void>;
  /** Stops the timer and writes every bucket, the current second's too. */
  close(): Promise<void>;
}

interface Bucket {
  source: string;
  reasons: Set<string>;
  subjects: readonly SubjectRef[];
  count: number;
}

interface Window {
  second: number;
  buckets: Map<string, Bucket>;
  /** Buckets other than the overflow bucket. */
  keys: number;
}

/** Starts an aggregator whose 1 s timer (unref'd: it never keeps the process alive) writes closed seconds. */
export function createRefusalAggregator(options: RefusalAggregatorOptions): RefusalAggregator {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeysPerWindow ?? DEFAULT_REFUSAL_AGGREGATOR.maxKeysPerWindow;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new AuditOptionsError('maxKeysPerWindow', 'a positive integer');
  if (typeof options.append !== 'function') throw new AuditOptionsError('append', 'a function writing one access record');
  const windows = new Map<number, Window>();
  let closed = false;

  function refuse(source: string, reason: string, detail: { reason?: string; subjects?: readonly SubjectRef[] } = {}): void {
    const second = Math.floor(now() / 1000);
    let window = windows.get(second);
    if (!window) {
      window = { second, buckets: new Map(), keys: 0 };
      windows.set(second, window);
    }
    const from = typeof source === 'string' ? (sourceAddressOf(source) ?? UNKNOWN_SOURCE) : UNKNOWN_SOURCE;
    const code = String(reason);
    const why = typeof detail.reason === 'string' && detail.reason !== code ? detail.reason : undefined;
    const subjects = detail.subjects ?? [];
    const key = `${from} ${code} ${why ?? ''} ${subjects.map((s) => `${s.kind}:${s.id}`).join(',')}`;
    let bucket = window.buckets.get(key);
    if (!bucket) {
      if (window.keys >= maxKeys) {
        bucket = window.buckets.get(OVERFLOW_SOURCE);
        if (!bucket) {
          bucket = { source: OVERFLOW_SOURCE, reasons: new Set(), subjects: [], count: 0 };
          window.buckets.set(OVERFLOW_SOURCE, bucket);
        }
        if (bucket.reasons.size < MAX_OVERFLOW_REASONS) bucket.reasons.add(code);
        bucket.count++;
        return;
      }
      bucket = { source: from, reasons: new Set(why ? [code, why] : [code]), subjects, count: 0 };
      window.buckets.set(key, bucket);
      window.keys++;
    }
    bucket.count++;
  }

  function recordsOf(window: Window): AuditRecordInput[] {
    const records: AuditRecordInput[] = [];
    let n = 0;
    for (const bucket of window.buckets.values()) {
      records.push({
        requestId: `agg-${window.second}-${++n}`,
        correlationId: null,
        source: bucket.source,
        consumer: null,
        operator: null,
        purpose: null,
        caseNumber: null,
        operationName: null,
        operationHash: null,
        subjects: [...bucket.subjects],
        fields: {},
        outcome: 'DENIED',
        errorCodes: [...bucket.reasons].sort(),
        replyHash: null,
        receiptId: null,
        count: bucket.count,
        window: { from: new Date(window.second * 1000).toISOString(), to: new Date((window.second + 1) * 1000).toISOString() },
      });
    }
    return records;
  }

  async function write(all: boolean): Promise<void> {
    const current = Math.floor(now() / 1000);
    const due: Window[] = [];
    for (const window of windows.values()) {
      if (all || window.second < current) due.push(window);
    }
    for (const window of due) windows.delete(window.second);
    due.sort((a, b) => a.second - b.second);
    const results = await Promise.allSettled(due.flatMap(recordsOf).map((record) => options.append(record)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    if (options.onError) options.onError(failed.reason);
    else throw failed.reason;
  }

  const timer = setInterval(() => {
    write(false).catch(() => undefined);
  }, DEFAULT_REFUSAL_AGGREGATOR.flushEveryMs);
  timer.unref();

  return {
    refuse,
    flush: () => write(false),
    async close() {
      if (!closed) {
        closed = true;
        clearInterval(timer);
      }
      await write(true);
    },
  };
}
