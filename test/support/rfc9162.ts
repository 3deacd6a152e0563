/**
 * An implementation of RFC 9162 section 2.1 written for the tests, from the RFC's definitions and
 * independently of src/audit/merkle.ts: MTH, PATH and PROOF as the recursive definitions over lists
 * of leaves, and proof checking by rebuilding the roots from a proof top-down (not by the RFC's
 * iterative algorithms, which the module uses).
 */
import { createHash } from 'node:crypto';

export const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
export const refLeaf = (data: Buffer) => sha(Buffer.from([0x00]), data);
export const refNode = (l: Buffer, r: Buffer) => sha(Buffer.from([0x01]), l, r);
/** k: the largest power of two smaller than n. */
export const kOf = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1);

export function MTH(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return refLeaf(d[0]!);
  const k = kOf(d.length);
  return refNode(MTH(d.slice(0, k)), MTH(d.slice(k)));
}

export function PATH(m: number, d: Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const k = kOf(d.length);
  return m < k ? [...PATH(m, d.slice(0, k)), MTH(d.slice(k))] : [...PATH(m - k, d.slice(k)), MTH(d.slice(0, k))];
}

export function SUBPROOF(m: number, d: Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [MTH(d)];
  const k = kOf(n);
  return m <= k ? [...SUBPROOF(m, d.slice(0, k), b), MTH(d.slice(k))] : [...SUBPROOF(m - k, d.slice(k), false), MTH(d.slice(0, k))];
}
export const PROOF = (m: number, d: Buffer[]) => (m === 0 || m === d.length ? [] : SUBPROOF(m, d, true));

/** Rebuilds the root from an audit path by following the tree's shape top-down (the proof is consumed from its end). */
export function rootFromPath(index: number, size: number, leaf: Buffer, path: Buffer[]): Buffer | null {
  const rest = [...path];
  const walk = (m: number, n: number): Buffer | null => {
    if (n === 1) return leaf;
    const k = kOf(n);
    const sibling = rest.pop();
    if (!sibling) return null;
    if (m < k) {
      const left = walk(m, k);
      return left && refNode(left, sibling);
    }
    const right = walk(m - k, n - k);
    return right && refNode(sibling, right);
  };
  const root = walk(index, size);
  return rest.length === 0 ? root : null;
}

/** Checks a consistency proof by rebuilding both roots top-down from the proof, as SUBPROOF built it. */
export function rootsFromConsistency(m: number, n: number, oldRoot: Buffer, proof: Buffer[]): { old: Buffer; new: Buffer } | null {
  const rest = [...proof];
  const sub = (m: number, n: number, b: boolean): { old: Buffer; new: Buffer } | null => {
    if (m === n) {
      if (b) return { old: oldRoot, new: oldRoot };
      const h = rest.shift();
      return h ? { old: h, new: h } : null;
    }
    const k = kOf(n);
    if (m <= k) {
      const left = sub(m, k, b);
      const right = rest.shift();
      if (!left || !right) return null;
      return { old: left.old, new: refNode(left.new, right) };
    }
    const right = sub(m - k, n - k, false);
    const left = rest.shift();
    if (!left || !right) return null;
    return { old: refNode(left, right.old), new: refNode(left, right.new) };
  };
  // SUBPROOF emits the deepest hashes first; rebuild in that order.
  const result = sub(m, n, true);
  return result && rest.length === 0 ? result : null;
}


/** A record's leaf hash given its stored line. */
export const leafOfLine = (line: string): Buffer => refLeaf(Buffer.from(line, 'utf8'));
