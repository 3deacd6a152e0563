/**
 * The Merkle tree of an instance's records, in the manner of Certificate Transparency (RFC 9162,
 * section 2.1): leaf i is record seq i+1, its hash SHA-256(0x00 ‖ the record's canonical line);
 * an inner node is SHA-256(0x01 ‖ left ‖ right); the tree of n leaves splits at the largest power
 * of two below n. Signed tree heads commit to the root at a size; inclusion proofs show that a
 * record is in a head's tree, consistency proofs that a later head's tree extends an earlier one.
 *
 * `MerkleTree` keeps every complete perfect subtree (about 64 bytes a record, in chunked buffers),
 * so a root or a proof at any size costs O(log n) lookups. After retention removed old segments,
 * the tree starts from the roots of the perfect subtrees that made up the removed prefix (the
 * "frontier" a signed retention record keeps): exactly the hashes that proofs for the records
 * still held need.
 */
import { hash as digestOf } from 'node:crypto';
import { BadUserInputError } from '../sdk';

/** SHA-256 of bytes, or of a text's UTF-8 bytes, in one call. */
function sha256(data: string | Uint8Array): Buffer {
  return digestOf('sha256', data, 'buffer');
}

/** Hash length in bytes (SHA-256). */
export const HASH_BYTES = 32;

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_TREE_ROOT: Buffer = sha256(Buffer.alloc(0));

const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

/** RFC 9162 leaf hash of a record's stored (canonical) line. */
export function leafHash(line: string | Uint8Array): Buffer {
  return sha256(typeof line === 'string' ? `\u0000${line}` : Buffer.concat([LEAF_PREFIX, line]));
}

/** RFC 9162 inner node hash. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(Buffer.concat([NODE_PREFIX, left, right]));
}

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The perfect subtrees that make up [0, size), left to right: one per set bit of size, largest first. */
export function frontierShape(size: number): Array<{ level: number; index: number }> {
  const shape: Array<{ level: number; index: number }> = [];
  for (let level = 52; level >= 0; level--) {
    const span = 2 ** level;
    if (Math.floor(size / span) % 2 === 1) shape.push({ level, index: Math.floor(size / span) - 1 });
  }
  return shape;
}

/** The root of a tree given its frontier (the perfect subtree roots, largest first). */
export function rootOfFrontier(subtrees: readonly Uint8Array[]): Buffer {
  if (subtrees.length === 0) return EMPTY_TREE_ROOT;
  let hash: Buffer = Buffer.from(subtrees[subtrees.length - 1]!);
  for (let i = subtrees.length - 2; i >= 0; i--) hash = nodeHash(subtrees[i]!, hash);
  return hash;
}

/** Hashes appended one after another, in fixed-size chunks (no object per hash). */
export class HashColumn {
  private static readonly PER_CHUNK = 16_384;
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(hash: Uint8Array): void {
    const slot = this.length % HashColumn.PER_CHUNK;
    if (slot === 0) this.chunks.push(Buffer.allocUnsafe(HashColumn.PER_CHUNK * HASH_BYTES));
    Buffer.from(hash.buffer, hash.byteOffset, HASH_BYTES).copy(this.chunks[this.chunks.length - 1]!, slot * HASH_BYTES);
    this.length++;
  }

  get(i: number): Buffer {
    const chunk = this.chunks[Math.floor(i / HashColumn.PER_CHUNK)]!;
    const at = (i % HashColumn.PER_CHUNK) * HASH_BYTES;
    return chunk.subarray(at, at + HASH_BYTES);
  }
}

/** Raised when a root or proof needs hashes of records that retention removed. */
export class PrunedRangeError extends BadUserInputError {
  constructor(readonly prunedThrough: number) {
    super('seq', `reaches into the tree's first ${prunedThrough} leaves, which were pruned: no proof reaches into them`);
  }
}

/** An append-only Merkle tree with roots and proofs at any size it has reached. */
export class MerkleTree {
  /** levels[i] holds the complete perfect subtrees of 2^i leaves, from index offsets[i]. */
  private readonly levels: HashColumn[] = [];
  private readonly offsets: number[] = [];
  /** Nodes of the pruned prefix (its frontier), by `level:index`. */
  private readonly prunedNodes = new Map<string, Buffer>();
  private count: number;
  /** Leaves removed from the front: their hashes are gone, their frontier is kept. */
  readonly prunedThrough: number;

  /**
   * An empty tree, or one whose first `prunedThrough` leaves were removed and are represented by
   * the frontier of that prefix (largest subtree first, as `frontierShape`).
   */
  constructor(pruned?: { size: number; frontier: readonly Uint8Array[] }) {
    this.count = pruned?.size ?? 0;
    this.prunedThrough = this.count;
    if (pruned) {
      const shape = frontierShape(pruned.size);
      if (shape.length !== pruned.frontier.length) throw new BadUserInputError('frontier', `of ${pruned.size} leaves has ${shape.length} hashes, not ${pruned.frontier.length}`);
      shape.forEach(({ level, index }, i) => this.prunedNodes.set(`${level}:${index}`, Buffer.from(pruned.frontier[i]!)));
    }
  }

  /** Leaves in the tree (pruned ones included). */
  get size(): number {
    return this.count;
  }

  private level(i: number): HashColumn {
    while (this.levels.length <= i) {
      this.levels.push(new HashColumn());
      // A tree made from a pruned prefix holds no node that lies wholly inside the prefix.
      this.offsets.push(Math.floor(this.prunedThrough / 2 ** this.offsets.length));
    }
    return this.levels[i]!;
  }

  /** The hash of leaf `index` (0-based: record seq index+1). */
  leaf(index: number): Buffer {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.count) throw new BadUserInputError('index', `must be below ${this.count}, got ${index}`);
    return this.node(0, index);
  }

  /** Appends a leaf hash. */
  append(leaf: Uint8Array): void {
    if (leaf.length !== HASH_BYTES) throw new BadUserInputError('leaf', `must be a hash of ${HASH_BYTES} bytes`);
    this.level(0).push(leaf);
    this.count++;
    const n = this.count;
    for (let i = 0; Math.floor(n / 2 ** i) % 2 === 0; i++) {
      const j = Math.floor(n / 2 ** (i + 1)) - 1;
      this.level(i + 1).push(nodeHash(this.node(i, 2 * j), this.node(i, 2 * j + 1)));
    }
  }

  /** The root of a complete perfect subtree: 2^level leaves from index·2^level. */
  private node(level: number, index: number): Buffer {
    const column = this.level(level);
    const offset = this.offsets[level]!;
    if (index >= offset && index - offset < column.length) return column.get(index - offset);
    const pruned = this.prunedNodes.get(`${level}:${index}`);
    if (pruned) return pruned;
    throw new PrunedRangeError(this.prunedThrough);
  }

  /** MTH(D[start:end]) for the ranges the RFC's recursions produce (left parts perfect and aligned). */
  private range(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 1) return this.node(0, start);
    if ((n & (n - 1)) === 0 && start % n === 0) return this.node(Math.log2(n), start / n);
    const k = splitPoint(n);
    return nodeHash(this.range(start, start + k), this.range(start + k, end));
  }

  private checkSize(size: number, name = 'size'): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.count) throw new BadUserInputError(name, `must be between 0 and ${this.count}, got ${size}`);
  }

  /** The root of the tree of the first `size` leaves. */
  root(size = this.count): Buffer {
    this.checkSize(size);
    if (size === 0) return EMPTY_TREE_ROOT;
    return this.range(0, size);
  }

  /** The frontier of the first `size` leaves (what a retention record keeps when they are removed). */
  frontier(size = this.count): Buffer[] {
    this.checkSize(size);
    return frontierShape(size).map(({ level, index }) => this.node(level, index));
  }

  /** RFC 9162 2.1.3.1: the inclusion proof (audit path, leaf to root) of leaf `index` in the tree of `size` leaves. */
  inclusionProof(index: number, size: number): Buffer[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new BadUserInputError('index', `must be below the tree size ${size}, got ${index}`);
    const path: Buffer[] = [];
    const walk = (m: number, start: number, end: number): void => {
      const n = end - start;
      if (n === 1) return;
      const k = splitPoint(n);
      if (m < k) {
        walk(m, start, start + k);
        path.push(this.range(start + k, end));
      } else {
        walk(m - k, start + k, end);
        path.push(this.range(start, start + k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** RFC 9162 2.1.4.1: the consistency proof between the trees of `from` and `to` leaves. */
  consistencyProof(from: number, to: number): Buffer[] {
    this.checkSize(to, 'to');
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new BadUserInputError('from', `must be between 0 and ${to}, got ${from}`);
    const proof: Buffer[] = [];
    if (from === 0 || from === to) return proof;
    const sub = (m: number, start: number, end: number, whole: boolean): void => {
      const n = end - start;
      if (m === n) {
        if (!whole) proof.push(this.range(start, end));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        sub(m, start, start + k, whole);
        proof.push(this.range(start + k, end));
      } else {
        sub(m - k, start + k, end, false);
        proof.push(this.range(start, start + k));
      }
    };
    sub(from, 0, to, true);
    return proof;
  }
}

/** Streams leaves and gives the root at every size, keeping only the frontier (for verification). */
export class MerkleFrontier {
  private readonly subtrees: Buffer[];
  private count: number;

  constructor(start?: { size: number; frontier: readonly Uint8Array[] }) {
    this.count = start?.size ?? 0;
    this.subtrees = (start?.frontier ?? []).map((h) => Buffer.from(h));
    if (frontierShape(this.count).length !== this.subtrees.length) throw new BadUserInputError('frontier', `of ${this.count} leaves has ${frontierShape(this.count).length} hashes`);
  }

  get size(): number {
    return this.count;
  }

  push(leaf: Uint8Array): void {
    let hash: Buffer = Buffer.from(leaf);
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) hash = nodeHash(this.subtrees.pop()!, hash);
    this.subtrees.push(hash);
    this.count++;
  }

  root(): Buffer {
    return rootOfFrontier(this.subtrees);
  }

  frontier(): Buffer[] {
    return this.subtrees.map((h) => Buffer.from(h));
  }
}

/** RFC 9162 2.1.3.2: whether `proof` shows leaf `index` (hash `leaf`) in the tree of `size` leaves with root `root`. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(Buffer.from(root));
}

/** RFC 9162 2.1.4.2: whether `proof` shows the tree of `to` leaves (root `toRoot`) extends the tree of `from` leaves (root `fromRoot`). */
export function verifyConsistency(from: number, to: number, proof: readonly Uint8Array[], fromRoot: Uint8Array, toRoot: Uint8Array): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) return false;
  if (from === to) return proof.length === 0 && Buffer.from(fromRoot).equals(Buffer.from(toRoot));
  if (from === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (from & (from - 1)) === 0 ? [Buffer.from(fromRoot), ...proof.map((p) => Buffer.from(p))] : proof.map((p) => Buffer.from(p));
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = path[0]!;
  let sr: Buffer = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(Buffer.from(fromRoot)) && sr.equals(Buffer.from(toRoot));
}
