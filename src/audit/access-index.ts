/**
 * The in-memory index that answers auditor and citizen queries without scanning the log: one
 * posting list (ascending seqs) per subject key, consumer, case, purpose, outcome, department and
 * federation request id,
 * plus each record's time by seq. A query intersects posting lists and reads from the sink only
 * the records it returns. It is rebuilt from the sink at open and kept current with each batch;
 * it holds no record values, only what a query filters on.
 */
import type { AuditRecord } from './record';

/** The term a record is found under, per filterable field. */
export const term = {
  subject: (key: string) => `s:${key}`,
  consumer: (consumer: string) => `c:${consumer}`,
  caseNumber: (caseNumber: string) => `k:${caseNumber}`,
  purpose: (purpose: string) => `p:${purpose}`,
  outcome: (outcome: string) => `o:${outcome}`,
  department: (department: string) => `d:${department}`,
  federationRequestId: (id: string) => `f:${id}`,
};

function termsOf(record: AuditRecord): string[] {
  const terms = record.subjects.map((s) => term.subject(s.key));
  if (record.consumer !== null) terms.push(term.consumer(record.consumer));
  if (record.caseNumber !== null) terms.push(term.caseNumber(record.caseNumber));
  if (record.purpose !== null) terms.push(term.purpose(record.purpose));
  terms.push(term.outcome(record.outcome));
  for (const department of Object.keys(record.fields)) terms.push(term.department(department));
  if (typeof record.federationRequestId === 'string') terms.push(term.federationRequestId(record.federationRequestId));
  return terms;
}

/** First index in ascending `list` whose value is >= `value`. */
function lowerBound(list: ArrayLike<number>, value: number, from = 0, to = list.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What to select: all of `terms`, a seq window, an extra per-seq test, in one order, at most `limit`. */
export interface IndexSelection {
  terms: readonly string[];
  /** Inclusive time window, ms since the epoch. */
  fromMs?: number;
  toMs?: number;
  /** Only seqs after this one in `order` (the paging cursor). */
  afterSeq?: number;
  order: 'asc' | 'desc';
  limit: number;
  /** A test on facts the index already holds (no disk read), e.g. withholding confidential purposes. */
  accept?: (seq: number) => boolean;
}

/** The in-memory posting-list index of one log. */
export class AccessIndex {
  private readonly postings = new Map<string, number[]>();
  private times = new Float64Array(1024).fill(NaN);
  private base = 0;
  private length = 0;

  /** Adds a record that the sink holds durably. */
  add(record: AuditRecord): void {
    if (this.length === 0) this.base = record.seq;
    const i = record.seq - this.base;
    // A damaged log may claim any seq: such a record stays out of the index (verification reports it).
    if (i < 0 || i > this.length + 1_000_000) return;
    if (i >= this.times.length) {
      const grown = new Float64Array(Math.max(i + 1, this.times.length * 2)).fill(NaN);
      grown.set(this.times);
      this.times = grown;
    }
    this.times[i] = Date.parse(record.time);
    if (i >= this.length) this.length = i + 1;
    for (const t of termsOf(record)) {
      const list = this.postings.get(t);
      if (!list) this.postings.set(t, [record.seq]);
      else if (list[list.length - 1]! < record.seq) list.push(record.seq);
      else {
        const at = lowerBound(list, record.seq);
        if (list[at] !== record.seq) list.splice(at, 0, record.seq);
      }
    }
  }

  /** The time of a record, ms since the epoch; NaN when the index does not hold it. */
  timeOf(seq: number): number {
    const i = seq - this.base;
    return i >= 0 && i < this.length ? this.times[i]! : NaN;
  }

  /** True when record `seq` is filed under `t`. */
  has(t: string, seq: number): boolean {
    const list = this.postings.get(t);
    if (!list) return false;
    return list[lowerBound(list, seq)] === seq;
  }

  /** How many terms the index holds (for memory estimates). */
  get termCount(): number {
    return this.postings.size;
  }

  /** Forgets the records below `seq` (their segments were removed). */
  dropBefore(seq: number): void {
    for (const [t, list] of this.postings) {
      const cut = lowerBound(list, seq);
      if (cut === list.length) this.postings.delete(t);
      else if (cut > 0) list.splice(0, cut);
    }
    const cut = Math.min(Math.max(0, seq - this.base), this.length);
    if (cut === 0) return;
    const kept = this.times.slice(cut, this.length);
    this.times = new Float64Array(Math.max(1024, kept.length * 2)).fill(NaN);
    this.times.set(kept);
    this.base += cut;
    this.length -= cut;
  }

  /** The seqs matching a selection, in order, at most `limit`, and whether more follow. */
  select(selection: IndexSelection): { seqs: number[]; more: boolean } {
    if (this.length === 0) return { seqs: [], more: false };
    // Times never decrease along the chain (the log stamps them), so a time window is a seq window.
    let lo = this.base;
    let hi = this.base + this.length - 1;
    if (selection.fromMs !== undefined) lo = this.base + lowerBound(this.times, selection.fromMs, 0, this.length);
    if (selection.toMs !== undefined) hi = this.base + lowerBound(this.times, selection.toMs + 1, 0, this.length) - 1;
    if (selection.afterSeq !== undefined) {
      if (selection.order === 'desc') hi = Math.min(hi, selection.afterSeq - 1);
      else lo = Math.max(lo, selection.afterSeq + 1);
    }
    const seqs: number[] = [];
    if (lo > hi) return { seqs, more: false };
    const wanted = selection.limit + 1;
    const accept = selection.accept ?? (() => true);
    const desc = selection.order === 'desc';

    if (selection.terms.length === 0) {
      for (let seq = desc ? hi : lo; desc ? seq >= lo : seq <= hi; seq += desc ? -1 : 1) {
        if (!Number.isNaN(this.times[seq - this.base]!) && accept(seq)) {
          seqs.push(seq);
          if (seqs.length === wanted) break;
        }
      }
    } else {
      const lists: number[][] = [];
      for (const t of selection.terms) {
        const list = this.postings.get(t);
        if (!list) return { seqs, more: false };
        lists.push(list);
      }
      lists.sort((a, b) => a.length - b.length);
      const [driver, ...others] = lists as [number[], ...number[][]];
      const start = desc ? lowerBound(driver, hi + 1) - 1 : lowerBound(driver, lo);
      for (let i = start; desc ? i >= 0 : i < driver.length; i += desc ? -1 : 1) {
        const seq = driver[i]!;
        if (desc ? seq < lo : seq > hi) break;
        if (others.every((list) => list[lowerBound(list, seq)] === seq) && accept(seq)) {
          seqs.push(seq);
          if (seqs.length === wanted) break;
        }
      }
    }
    const more = seqs.length > selection.limit;
    if (more) seqs.pop();
    return { seqs, more };
  }
}
