/**
 * src/audit/merkle.ts against an implementation of RFC 9162 section 2.1 written here, from the
 * RFC's definitions and independently of the module: MTH, PATH and PROOF as the recursive
 * definitions over lists of leaves, and proof checking by rebuilding the root from the proof
 * (not by the RFC's iterative algorithms, which the module uses).
 */
import fc from 'fast-check';
import { EMPTY_TREE_ROOT, leafHash, MerkleFrontier, MerkleTree, PrunedRangeError, verifyConsistency, verifyInclusion } from '../../../src/audit/merkle';
import { MTH, PATH, PROOF, refLeaf, refNode, rootFromPath, rootsFromConsistency, sha } from '../../support/rfc9162';

const entries = (n: number, salt = 'x') => Array.from({ length: n }, (_, i) => Buffer.from(`${salt}-record-${i}`));
function treeOf(d: Buffer[]): MerkleTree {
  const tree = new MerkleTree();
  for (const e of d) tree.append(leafHash(e));
  return tree;
}

describe('the Merkle tree agrees with RFC 9162 written independently', () => {
  const data = entries(70);
  const tree = treeOf(data);

  it('hashes a stored line given as text as its UTF-8 bytes', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (line) => expect(leafHash(line).equals(refLeaf(Buffer.from(line, 'utf8')))).toBe(true)));
  });

  it('roots at every size, and the empty tree', () => {
    expect(EMPTY_TREE_ROOT.equals(sha())).toBe(true);
    for (let n = 0; n <= data.length; n++) expect(tree.root(n).toString('hex')).toBe(MTH(data.slice(0, n)).toString('hex'));
  });

  it('inclusion proofs for every leaf at every size, checked by rebuilding the root', () => {
    for (let n = 1; n <= data.length; n++) {
      const root = MTH(data.slice(0, n));
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(proof.map((h) => h.toString('hex'))).toEqual(PATH(m, data.slice(0, n)).map((h) => h.toString('hex')));
        expect(rootFromPath(m, n, refLeaf(data[m]!), proof)?.equals(root)).toBe(true);
        expect(verifyInclusion(leafHash(data[m]!), m, n, proof, root)).toBe(true);
      }
    }
  });

  it('consistency proofs between every pair of sizes, checked by rebuilding both roots', () => {
    for (let n = 1; n <= data.length; n++) {
      const newRoot = MTH(data.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const oldRoot = MTH(data.slice(0, m));
        const proof = tree.consistencyProof(m, n);
        expect(proof.map((h) => h.toString('hex'))).toEqual(PROOF(m, data.slice(0, n)).map((h) => h.toString('hex')));
        if (m < n) {
          const rebuilt = rootsFromConsistency(m, n, oldRoot, proof);
          expect(rebuilt?.old.equals(oldRoot)).toBe(true);
          expect(rebuilt?.new.equals(newRoot)).toBe(true);
        }
        expect(verifyConsistency(m, n, proof, oldRoot, newRoot)).toBe(true);
      }
    }
  });

  it('rejects a changed leaf, a changed proof hash, a wrong index, a shortened or lengthened proof', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 70 }), fc.nat(), fc.nat(), (n, a, b) => {
        const m = a % n;
        const root = MTH(data.slice(0, n));
        const proof = tree.inclusionProof(m, n);
        const leaf = leafHash(data[m]!);
        expect(verifyInclusion(leafHash(Buffer.from('forged')), m, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, (m + 1) % n, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, m, n, [...proof, leaf], root)).toBe(false);
        if (proof.length > 0) {
          const i = b % proof.length;
          const changed = proof.map((h, j) => (j === i ? refNode(h, h) : h));
          expect(verifyInclusion(leaf, m, n, changed, root)).toBe(false);
          expect(verifyInclusion(leaf, m, n, proof.slice(1), root)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects consistency with a rewritten prefix, a changed proof hash or swapped roots', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 70 }), fc.nat(), fc.nat(), (n, a, b) => {
        const m = 1 + (a % (n - 1));
        const rewritten = data.slice(0, n).map((d, i) => (i === b % m ? Buffer.from('rewritten') : d));
        const proof = tree.consistencyProof(m, n);
        const oldRoot = MTH(data.slice(0, m));
        const newRoot = MTH(data.slice(0, n));
        expect(verifyConsistency(m, n, proof, MTH(rewritten.slice(0, m)), newRoot)).toBe(false);
        expect(verifyConsistency(m, n, treeOf(rewritten).consistencyProof(m, n), oldRoot, MTH(rewritten))).toBe(false);
        expect(verifyConsistency(m, n, proof, newRoot, oldRoot)).toBe(false);
        const i = b % proof.length;
        expect(verifyConsistency(m, n, proof.map((h, j) => (j === i ? refNode(h, h) : h)), oldRoot, newRoot)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a tree that starts from a pruned prefix', () => {
  it('gives the same roots and proofs for the leaves it still holds, and refuses proofs into the pruned part', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 40 }), (k, extra) => {
        const data = entries(k + extra, `p${k}`);
        const full = treeOf(data);
        const pruned = new MerkleTree({ size: k, frontier: treeOf(data.slice(0, k)).frontier() });
        for (const d of data.slice(k)) pruned.append(leafHash(d));
        const n = k + extra;
        expect(pruned.root(n).equals(MTH(data))).toBe(true);
        for (let size = k; size <= n; size++) expect(pruned.root(size).equals(full.root(size))).toBe(true);
        for (let m = k; m < n; m++) expect(pruned.inclusionProof(m, n).map(String)).toEqual(full.inclusionProof(m, n).map(String));
        for (let from = k; from <= n; from++) expect(pruned.consistencyProof(from, n).map(String)).toEqual(full.consistencyProof(from, n).map(String));
        if (k > 1) expect(() => pruned.inclusionProof(0, n)).toThrow(PrunedRangeError);
      }),
      { numRuns: 80 },
    );
  });

  it('streams the same roots through the frontier, starting anywhere', () => {
    const data = entries(50, 'f');
    const stream = new MerkleFrontier({ size: 13, frontier: treeOf(data.slice(0, 13)).frontier() });
    for (let i = 13; i < 50; i++) {
      stream.push(leafHash(data[i]!));
      expect(stream.root().equals(MTH(data.slice(0, i + 1)))).toBe(true);
    }
  });
});
